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
    optimization = ort.GraphOptimizationLevel.ORT_ENABLE_ALL

    def __init__(self, model: bytes | str | Path, threads: int = 1):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = self.optimization
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


class OnnxRuntimeExactRunner(OnnxRuntimeRunner):
    """The same model with graph optimizations off: no QDQ pair is fused into an integer kernel, so each
    QuantizeLinear/DequantizeLinear runs as written around float compute. That is the QDQ model's own arithmetic,
    what a non-saturating int8 kernel (Arm, x86 VNNI) computes to a rounding step, on any CPU; the x86 AVX2
    U8S8 kernels, which saturate, never run. Slower than the fused model: for numbers, not for timing."""

    runtime = "onnxruntime-exact"
    optimization = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
