"""LiteRT (TFLite) runner: numpy plus whichever interpreter is installed, so the same file runs on the device.

`ai_edge_litert` is preferred (it runs every file current converters make, with numpy 1 and 2);
`tflite_runtime` (abandoned at 2.14, crashes with numpy 2) and `tensorflow.lite` are fallbacks. Which one
ran is recorded, because their kernels differ. Integer-IO models take and return floats here: the runner
applies the input scale/zero-point and dequantizes outputs, exactly as device code must.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import numpy as np

# (package, module to import, attribute path to the object holding `Interpreter`); tf.lite exists only as an
# attribute of TensorFlow's lazily built top-level API, not as an importable module.
IMPLEMENTATIONS = (
    ("ai_edge_litert", "ai_edge_litert.interpreter", ""),
    ("tflite_runtime", "tflite_runtime.interpreter", ""),
    ("tensorflow", "tensorflow", "lite"),
)


def load_interpreter_module() -> tuple[str, str, Any]:
    """The first interpreter implementation that imports: (package, version, module with `Interpreter`)."""
    errors = []
    for package, module_name, attribute in IMPLEMENTATIONS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            errors.append(f"{package}: {exc}")
            continue
        for part in filter(None, attribute.split(".")):
            module = getattr(module, part)
        version = getattr(importlib.import_module(package), "__version__", "unknown")
        return package, version, module
    raise ImportError("no TFLite interpreter is installed (pip install ai-edge-litert); " + "; ".join(errors))


def import_runtime() -> str:
    """The runtime this runner needs, imported (the interpreter module loads lazily otherwise): its version."""
    package, version, _ = load_interpreter_module()
    return f"{package} {version}"


class LiteRtRunner:
    """One TFLite model in an Interpreter with the default delegate (XNNPACK on CPU) and fixed threads."""

    runtime = "litert"

    def __init__(self, model: bytes | str | Path, threads: int = 1):
        self.implementation, version, module = load_interpreter_module()
        self.version = f"{self.implementation} {version}"
        content = model if isinstance(model, bytes) else Path(model).read_bytes()
        self.interpreter = module.Interpreter(model_content=content, num_threads=threads)
        self.interpreter.allocate_tensors()
        self.threads = threads
        self._batch: int | None = None
        self._output_order = signature_output_order(self.interpreter)

    @property
    def input_names(self) -> list[str]:
        return [d["name"] for d in self.interpreter.get_input_details()]

    @property
    def fixed_batch(self) -> int | None:
        first = self.interpreter.get_input_details()[0]
        return None if len(first["shape_signature"]) and first["shape_signature"][0] == -1 else int(first["shape"][0])

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        details = self.interpreter.get_input_details()
        batch = len(next(iter(feeds.values())))
        if self.fixed_batch is None and batch != self._batch:
            for detail in details:
                self.interpreter.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]])
            self.interpreter.allocate_tensors()
            self._batch = batch
            details = self.interpreter.get_input_details()
        for detail in details:
            self.interpreter.set_tensor(detail["index"], _quantize(feeds[detail["name"]], detail))
        self.interpreter.invoke()
        by_index = {d["index"]: d for d in self.interpreter.get_output_details()}
        order = self._output_order or list(by_index)
        return [_dequantize(self.interpreter.get_tensor(index), by_index[index]) for index in order]


def signature_output_order(interpreter: Any) -> list[int] | None:
    """The output tensors' indices in the source model's order, or None to keep the flatbuffer's.

    get_output_details() lists outputs in the flatbuffer's order, which the conversion permutes (a 3-output
    ONNX model came back as outputs 1, 0, 2, and validation compared the wrong tensor). The serving signature
    names them output_0, output_1, ... in the ONNX graph's order; when every name is of that form, that order
    is used."""
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        return None
    details = interpreter.get_signature_runner(next(iter(signatures))).get_output_details()
    numbered = {}
    for name, detail in details.items():
        found = re.fullmatch(r"output_(\d+)", name)
        if not found:
            return None
        numbered[int(found.group(1))] = int(detail["index"])
    return [numbered[k] for k in sorted(numbered)] if sorted(numbered) == list(range(len(numbered))) else None


def _quantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    dtype = detail["dtype"]
    if not np.issubdtype(dtype, np.integer) or values.dtype == dtype:
        return values.astype(dtype, copy=False)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale) + zero_point, info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if not np.issubdtype(values.dtype, np.integer) or scale == 0:
        return values
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)
