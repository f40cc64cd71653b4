"""edgec: compile a trained model into validated int8 artifacts for a named edge device.

Importing the package stays cheap (no torch, no TensorFlow, no onnx): the compiler's heavy
dependencies load only when a pass or frontend that needs them runs.
"""

import os

__version__ = "0.1.0"

# ONNX Runtime (1.32, pinned) runs Microsoft's 1DS telemetry on Linux: it queues events in
# ~/.cache/Microsoft/DeveloperTools/.onnxruntime and uploads them to mobile.events.data.microsoft.com,
# also later, from a run that is online. Its switch is read once, when onnxruntime is first imported
# (`onnxruntime.disable_telemetry_events()` does not stop it), and the compiler, onnx2tf and the device
# harness all import it, so it is turned off here, before any of them can. A user's own setting wins.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
