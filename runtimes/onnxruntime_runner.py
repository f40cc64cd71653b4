"""ONNX Runtime CPU runner: numpy and onnxruntime only, so the same file runs on the device."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort


def import_runtime() -> str:
    """The runtime this runner needs, imported (it already is, by this module): its version."""
    return ort.__version__


class OnnxRuntimeRunner:
    """An InferenceSession with a fixed thread count and full graph optimizations, as a deployment uses it."""

    runtime = "onnxruntime"

    def __init__(self, model: bytes | str | Path, threads: int = 1):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        source = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.version = ort.__version__
        self.threads = threads
        self._inputs = self.session.get_inputs()

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self._inputs]

    @property
    def fixed_batch(self) -> int | None:
        first = self._inputs[0].shape[0] if self._inputs[0].shape else None
        return first if isinstance(first, int) and first > 0 else None

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(None, feeds)
