"""The target cost model: what an artifact needs (MACs, flash, RAM, time) before it reaches the device.

Edge Impulse, Vela and ST Edge AI answer "will it fit, and how fast" before flashing; edgec answers it from the
artifact itself and the target profile, for ONNX and TFLite alike, through one format-neutral `CostGraph`.
"""
