"""Graph cleanup before quantization: constant folding, BatchNorm folding, shape inference.

Quantizing a graph that still holds BatchNorm nodes or foldable constants puts QDQ pairs around ops that
should not exist, and they stay slow in int8. Two engines cover different ground: ONNX Runtime's basic graph
optimizer (portable, standard-op rewrites; it turns exporter debris such as CastLike chains into constants)
and onnxslim (pattern fusions, Conv+BN folding once its inputs are constants, dead-node removal). Measured in
bench/cleanup_methods.py: on a raw torch export with BatchNorm kept, either alone leaves all 3 BatchNorms
(int8 p50 0.126 ms onnxslim, 0.050 ms ort) while ORT then onnxslim folds them (35 -> 10 nodes, 0.026 ms,
equal to torch.onnx's own optimized export), so that order is the default.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import ClassVar

from ..errors import require
from ..kinds import Model, OnnxModel
from .base import Context, Pass, PassResult

METHODS = ("ort+onnxslim", "onnxslim", "ort", "none")


@dataclass(frozen=True)
class Cleanup(Pass):
    name: ClassVar[str] = "cleanup"
    accepts: ClassVar[str] = "onnx"
    produces: ClassVar[str] = "onnx"
    libraries: ClassVar[tuple[str, ...]] = ("onnx", "onnxslim", "onnxruntime")

    method: str = "ort+onnxslim"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, OnnxModel)
        onnx = require("onnx")
        proto = model.proto
        if self.method in ("ort", "ort+onnxslim"):
            proto = _ort_basic_optimize(proto)
        if self.method in ("onnxslim", "ort+onnxslim"):
            proto = require("onnxslim").slim(proto)
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
