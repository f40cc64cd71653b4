"""Graph cleanup before quantization: shape inference, constant folding, BatchNorm folding.

Quantizing a graph that still holds BatchNorm nodes or foldable constants puts QDQ pairs around ops that
should not exist and leaves calibration blind to their fused ranges. Two engines are offered because their
coverage differs: onnxslim (pattern-based constant folding and fusions, keeps the graph portable) and ONNX
Runtime's own basic graph optimizer (the folding ORT itself would do at load). See bench/cleanup.py for
what each buys on our models.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import ClassVar

from ..errors import require
from ..kinds import Model, OnnxModel
from .base import Context, Pass, PassResult

METHODS = ("onnxslim", "ort", "none")


@dataclass(frozen=True)
class Cleanup(Pass):
    name: ClassVar[str] = "cleanup"
    accepts: ClassVar[str] = "onnx"
    produces: ClassVar[str] = "onnx"
    libraries: ClassVar[tuple[str, ...]] = ("onnx", "onnxslim", "onnxruntime")

    method: str = "onnxslim"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, OnnxModel)
        onnx = require("onnx")
        proto = model.proto
        if self.method == "onnxslim":
            proto = require("onnxslim").slim(proto)
        elif self.method == "ort":
            proto = _ort_basic_optimize(proto)
        proto = onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)
        onnx.checker.check_model(proto)
        output = OnnxModel(proto)
        modified = output.fingerprint != model.fingerprint
        before, after = model.op_counts(), output.op_counts()
        return PassResult(output, modified, {"nodes_before": sum(before.values()), "nodes_after": sum(after.values())})


def _ort_basic_optimize(proto):
    """Let ONNX Runtime apply its basic (portable, provider-independent) graph optimizations offline."""
    ort = require("onnxruntime", extra="device")
    onnx = require("onnx")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "optimized.onnx")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = path
        ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return onnx.load(path)
