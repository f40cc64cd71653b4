"""Kernel scratch: the buffer a convolution kernel asks the arena for on top of its inputs and outputs.

It belongs to the kernel library, not to the graph, so the profile names the library's rule:
- "im2col": TFLite's optimized CPU kernels and ONNX Runtime's MLAS unfold every window into a matrix when the
  kernel is not a stride-1 1x1 (the column buffer: output pixels x window x channels); depthwise needs none.
  On the demo this buffer is 3x the activations, so an arena estimate without it is off by 4x.
- "cmsis-nn": CMSIS-NN (TFLite Micro on Cortex-M) keeps an int16 buffer of two windows per convolution.
- "none": an accelerator or GPU runtime that manages its own workspace (TensorRT).
"""

from __future__ import annotations

from .graph import Layer

SCRATCH_MODELS = ("im2col", "cmsis-nn", "none")


def scratch_bytes(layer: Layer, model: str) -> int:
    window = layer.window
    if window is None or model == "none":
        return 0
    if model == "im2col":
        if layer.kind == "depthwise" or (window.kernel == 1 and not window.resampled):
            return 0
        return window.out_pixels * window.kernel * window.channels * window.itemsize
    if layer.kind == "depthwise":
        return window.kernel * window.channels * 2
    return 0 if window.kernel == 1 else 2 * window.kernel * window.channels * 2
