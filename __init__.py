"""edgec: compile a trained model into validated int8 artifacts for a named edge device.

Importing the package stays cheap (no torch, no TensorFlow, no onnx): the compiler's heavy
dependencies load only when a pass or frontend that needs them runs.
"""

__version__ = "0.1.0"
