"""Bias correction (Nagel et al., "Data-Free Quantization", 2019, sec. 4.2) with measured input means.

Rounding a conv's weights to int8 changes W into W + dW, which shifts each output channel's mean by
sum(dW * E[x]): small per weight, systematic per channel, and large for depthwise convs whose few weights
per channel round coarsely. Subtracting that shift from the float bias before quantization cancels it. dW
is computed exactly as ONNX Runtime will quantize (symmetric int8, per channel or per tensor, 127 or 64
levels), and E[x] per input channel is measured on the calibration data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .activations import stream
from .data import Dataset
from .errors import require
from .kinds import OnnxModel
from .passes.equalize import conv_group


def correct_biases(
    model: OnnxModel,
    data: Dataset,
    batch: int,
    per_channel: bool,
    reduce_range: bool,
    skip: tuple[str, ...],
    on_batch: Callable[[int], None],
) -> tuple[OnnxModel, list[str]]:
    """A copy of `model` whose Conv biases absorb the int8 weight-rounding shift; also the corrected nodes."""
    onnx = require("onnx")
    proto = onnx.ModelProto()
    proto.CopyFrom(model.proto)
    weights = {init.name: init for init in proto.graph.initializer}
    convs = [n for n in proto.graph.node if n.op_type == "Conv" and n.input[1] in weights and n.name not in skip]
    means = _input_means(model, data, batch, sorted({c.input[0] for c in convs}), on_batch)
    qmax = 64 if reduce_range else 127
    corrected = []
    for conv in convs:
        w = onnx.numpy_helper.to_array(weights[conv.input[1]]).astype(np.float64)
        shift = _mean_shift(w, _rounded(w, qmax, per_channel) - w, means[conv.input[0]], conv_group(conv))
        if not np.any(shift):
            continue
        _set_bias(proto, conv, weights, shift, onnx)
        corrected.append(conv.name)
    return OnnxModel(proto), corrected


def _input_means(
    model: OnnxModel, data: Dataset, batch: int, names: list[str], on_batch: Callable[[int], None]
) -> dict[str, np.ndarray]:
    sums: dict[str, np.ndarray] = {}
    count = 0
    for values in stream(model, data, names, batch):
        for name, array in values.items():
            per_channel = array.astype(np.float64).sum(axis=(0, *range(2, array.ndim)))
            sums[name] = sums.get(name, 0) + per_channel / np.prod(array.shape[2:])
        count += len(next(iter(values.values()), []))
        on_batch(len(next(iter(values.values()), [])))
    return {name: total / max(count, 1) for name, total in sums.items()}


def _rounded(w: np.ndarray, qmax: int, per_channel: bool) -> np.ndarray:
    absmax = np.abs(w).reshape(w.shape[0], -1).max(axis=1) if per_channel else np.array([np.abs(w).max()])
    scale = np.where(absmax > 0, absmax / qmax, 1.0).reshape(-1, *([1] * (w.ndim - 1)))
    return np.clip(np.round(w / scale), -qmax, qmax) * scale


def _mean_shift(w: np.ndarray, dw: np.ndarray, mean: np.ndarray, group: int) -> np.ndarray:
    """Per output channel, sum over its inputs and kernel of dW * E[x] (grouped convs see their own inputs)."""
    out_per_group, in_per_group = w.shape[0] // group, w.shape[1]
    per_input = dw.sum(axis=tuple(range(2, dw.ndim)))  # (out, in_per_group): kernel summed, any conv rank
    shift = np.empty(w.shape[0])
    for g in range(group):
        rows = slice(g * out_per_group, (g + 1) * out_per_group)
        shift[rows] = per_input[rows] @ mean[g * in_per_group : (g + 1) * in_per_group]
    return shift


def _set_bias(proto: Any, conv: Any, weights: dict[str, Any], shift: np.ndarray, onnx: Any) -> None:
    if len(conv.input) > 2 and conv.input[2] in weights:
        tensor = weights[conv.input[2]]
        bias = onnx.numpy_helper.to_array(tensor).astype(np.float64) - shift
        tensor.CopyFrom(onnx.numpy_helper.from_array(bias.astype(np.float32), tensor.name))
        return
    name = f"{conv.name or conv.output[0]}_corrected_bias"
    proto.graph.initializer.append(onnx.numpy_helper.from_array((-shift).astype(np.float32), name))
    while len(conv.input) < 3:
        conv.input.append("")
    conv.input[2] = name
