"""Cross-layer equalization (Nagel et al., "Data-Free Quantization", 2019) for Conv -> Relu -> Conv chains.

ReLU is positive-homogeneous, so scaling output channel i of the first conv by 1/s_i and input channel i of
the second by s_i leaves the float function unchanged. Choosing s_i = sqrt(r1_i / r2_i), with r the
per-channel weight ranges, makes both convs' ranges equal per channel: a channel whose weights (and hence
activations) are 100x larger than the rest no longer sets the per-tensor int8 scale for all of them.
Applies to plain and depthwise second convs; other patterns (Clip/ReLU6, branches) are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import require
from ..kinds import Model, OnnxModel
from .base import Context, Pass, PassResult


@dataclass(frozen=True)
class Equalize(Pass):
    name: ClassVar[str] = "equalize"
    accepts: ClassVar[str] = "onnx"
    produces: ClassVar[str] = "onnx"
    libraries: ClassVar[tuple[str, ...]] = ("onnx",)

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, OnnxModel)
        onnx = require("onnx")
        proto = onnx.ModelProto()
        proto.CopyFrom(model.proto)
        graph = proto.graph
        weights = {init.name: init for init in graph.initializer}
        pairs = _conv_relu_conv(graph, weights)
        for first, second in pairs:
            _equalize(first, second, weights, onnx.numpy_helper)
        return PassResult(
            OnnxModel(proto), modified=bool(pairs), details={"pairs": [f"{a.name}->{b.name}" for a, b in pairs]}
        )


def _conv_relu_conv(graph: Any, weights: dict[str, Any]) -> list[tuple[Any, Any]]:
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    pairs = []
    for conv in graph.node:
        if conv.op_type != "Conv" or _group(conv) != 1 or conv.input[1] not in weights:
            continue
        relus = consumers.get(conv.output[0], [])
        if len(relus) != 1 or relus[0].op_type != "Relu" or conv.output[0] in outputs:
            continue
        nexts = consumers.get(relus[0].output[0], [])
        if len(nexts) != 1 or nexts[0].op_type != "Conv" or nexts[0].input[1] not in weights:
            continue
        if relus[0].output[0] in outputs or _group(nexts[0]) not in (1, _channels(weights, conv)):
            continue
        pairs.append((conv, nexts[0]))
    return pairs


def _equalize(first: Any, second: Any, weights: dict[str, Any], numpy_helper: Any) -> None:
    w1 = numpy_helper.to_array(weights[first.input[1]]).astype(np.float64)
    w2 = numpy_helper.to_array(weights[second.input[1]]).astype(np.float64)
    depthwise = _group(second) > 1
    r1 = np.abs(w1).reshape(w1.shape[0], -1).max(axis=1)
    r2 = np.abs(w2).reshape(w2.shape[0], -1).max(axis=1) if depthwise else np.abs(w2).max(axis=(0, 2, 3))
    scale = np.sqrt(np.where((r1 > 0) & (r2 > 0), r1 / np.where(r2 > 0, r2, 1), 1.0))
    w1 /= scale.reshape(-1, 1, 1, 1)
    if depthwise:
        w2 *= scale.reshape(-1, 1, 1, 1)
    else:
        w2 *= scale.reshape(1, -1, 1, 1)
    _store(weights[first.input[1]], w1, numpy_helper)
    _store(weights[second.input[1]], w2, numpy_helper)
    if len(first.input) > 2 and first.input[2] in weights:
        bias = numpy_helper.to_array(weights[first.input[2]]).astype(np.float64) / scale
        _store(weights[first.input[2]], bias, numpy_helper)


def _store(tensor: Any, values: np.ndarray, numpy_helper: Any) -> None:
    dtype = numpy_helper.to_array(tensor).dtype
    tensor.CopyFrom(numpy_helper.from_array(values.astype(dtype), tensor.name))


def _group(node: Any) -> int:
    return next((a.i for a in node.attribute if a.name == "group"), 1)


def _channels(weights: dict[str, Any], conv: Any) -> int:
    return int(weights[conv.input[1]].dims[0])
