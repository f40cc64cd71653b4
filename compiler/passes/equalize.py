"""Cross-layer equalization (Nagel et al., "Data-Free Quantization", 2019) for Conv -> Relu -> Conv chains,
also through MaxPool (Conv -> Relu -> MaxPool -> Conv).

ReLU and max-pooling are positive-homogeneous per channel, so scaling output channel i of the first conv by
1/s_i and input channel i of the second by s_i leaves the float function unchanged. Choosing
s_i = sqrt(r1_i / r2_i), with r the per-channel weight ranges, makes both convs' ranges equal per channel:
a channel whose weights (and hence activations) are 100x larger than the rest no longer sets the per-tensor
int8 scale for all of them. A conv in two pairs is swept until its scales settle.
Applies to plain and depthwise second convs. Clip/ReLU6 is left alone: its fixed ceiling does not scale, so
equalizing through it would change the float function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import require
from ..kinds import Model, OnnxModel
from ..onnx_attrs import conv_group
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
        proto, weights = model.editable_copy()
        graph = proto.graph
        pairs = _conv_relu_conv(graph, weights)
        for _ in range(MAX_SWEEPS):  # a conv in two pairs is rescaled by both: sweep until the scales settle
            if max((_equalize(a, b, weights, onnx.numpy_helper) for a, b in pairs), default=0.0) < SETTLED:
                break
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
        if conv.op_type != "Conv" or conv_group(conv) != 1 or conv.input[1] not in weights:
            continue
        relus = consumers.get(conv.output[0], [])
        if len(relus) != 1 or relus[0].op_type != "Relu" or conv.output[0] in outputs:
            continue
        between = relus[0]
        nexts = consumers.get(between.output[0], [])
        while len(nexts) == 1 and nexts[0].op_type == "MaxPool" and between.output[0] not in outputs:
            between = nexts[0]
            nexts = consumers.get(between.output[0], [])
        if len(nexts) != 1 or nexts[0].op_type != "Conv" or nexts[0].input[1] not in weights:
            continue
        if between.output[0] in outputs or conv_group(nexts[0]) not in (1, _channels(weights, conv)):
            continue
        pairs.append((conv, nexts[0]))
    return pairs


MAX_SWEEPS = 50
SETTLED = 1e-6  # largest |log scale| of a sweep below which equalization has converged


def _equalize(first: Any, second: Any, weights: dict[str, Any], numpy_helper: Any) -> float:
    """Equalize one pair in place; returns how far it moved (the largest |log| of its per-channel scales)."""
    w1 = numpy_helper.to_array(weights[first.input[1]]).astype(np.float64)
    w2 = numpy_helper.to_array(weights[second.input[1]]).astype(np.float64)
    depthwise = conv_group(second) > 1
    spatial = (1,) * (w1.ndim - 2)  # Conv1d, 2d and 3d alike: [out, in, *kernel]
    r1 = np.abs(w1).reshape(w1.shape[0], -1).max(axis=1)
    r2 = (
        np.abs(w2).reshape(w2.shape[0], -1).max(axis=1)
        if depthwise
        else np.abs(w2).swapaxes(0, 1).reshape(w2.shape[1], -1).max(axis=1)
    )
    scale = np.sqrt(np.where((r1 > 0) & (r2 > 0), r1 / np.where(r2 > 0, r2, 1), 1.0))
    w1 /= scale.reshape(-1, 1, *spatial)
    if depthwise:
        w2 *= scale.reshape(-1, 1, *spatial)
    else:
        w2 *= scale.reshape(1, -1, *spatial)
    _store(weights[first.input[1]], w1, numpy_helper)
    _store(weights[second.input[1]], w2, numpy_helper)
    if len(first.input) > 2 and first.input[2] in weights:
        bias = numpy_helper.to_array(weights[first.input[2]]).astype(np.float64) / scale
        _store(weights[first.input[2]], bias, numpy_helper)
    return float(np.abs(np.log(scale)).max(initial=0.0))


def _store(tensor: Any, values: np.ndarray, numpy_helper: Any) -> None:
    dtype = numpy_helper.to_array(tensor).dtype
    tensor.CopyFrom(numpy_helper.from_array(values.astype(dtype), tensor.name))


def _channels(weights: dict[str, Any], conv: Any) -> int:
    return int(weights[conv.input[1]].dims[0])
