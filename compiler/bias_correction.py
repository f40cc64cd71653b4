"""Bias correction (Nagel et al., "Data-Free Quantization", 2019, sec. 4.2) with measured input means.

Rounding a conv's weights to int8 changes W into W + dW, which shifts each output channel's mean by
sum(dW * E[x]): small per weight, systematic per channel, and large for depthwise convs whose few weights
per channel round coarsely. Subtracting that shift from the float bias before quantization cancels it. dW
is computed as ONNX Runtime will quantize (symmetric int8 with 127 or, reduced, 64 levels each side; or
asymmetric uint8 over a zero-including range; per channel or per tensor), and E[x] per input channel is
measured on the calibration data. Convs only: the depthwise-heavy case it is for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import channel_moments
from .data import Dataset
from .errors import require
from .kinds import OnnxModel
from .onnx_attrs import conv_group
from .weight_edits import bias, set_bias


def correct_biases(
    model: OnnxModel,
    means: dict[str, np.ndarray],
    weights_dtype: str,
    per_channel: bool,
    reduce_range: bool,
    skip: tuple[str, ...],
) -> tuple[OnnxModel, list[str]]:
    """A copy of `model` whose Conv biases absorb the weight-rounding shift; also the corrected nodes.
    `means` are conv_input_means of the same model; convs in `skip` stay float, so they are not corrected."""
    onnx = require("onnx")
    proto, weights = model.editable_copy()
    convs = [n for n in _convs(proto, weights) if n.name not in skip]
    corrected = []
    for conv in convs:
        w = onnx.numpy_helper.to_array(weights[conv.input[1]]).astype(np.float64)
        rounded = _rounded(w, weights_dtype, reduce_range, per_channel)
        shift = _mean_shift(w, rounded - w, means[conv.input[0]], conv_group(conv))
        if not np.any(shift):
            continue
        outputs = int(weights[conv.input[1]].dims[0])
        set_bias(proto, conv, weights, bias(conv, weights, outputs) - shift)
        corrected.append(conv.name)
    return OnnxModel(proto), corrected


def conv_input_means(model: OnnxModel, data: Dataset, batch: int) -> dict[str, np.ndarray]:
    """Per-channel mean of every conv's input over `data`: the float statistics correction needs, the same
    whichever convs a trial keeps float, so a search can compute them once."""
    weights = {init.name for init in model.proto.graph.initializer}
    names = sorted({n.input[0] for n in _convs(model.proto, weights)})
    return {name: moments.mean for name, moments in channel_moments(model, data, names, batch).items()}


def _convs(proto: Any, weights: Any) -> list[Any]:
    return [n for n in proto.graph.node if n.op_type == "Conv" and n.input[1] in weights]


def _rounded(w: np.ndarray, dtype: str, reduce_range: bool, per_channel: bool) -> np.ndarray:
    """W after ORT's weight quantization and dequantization."""
    rows = w.reshape(w.shape[0], -1) if per_channel else w.reshape(1, -1)
    shape = (-1, *([1] * (w.ndim - 1)))
    if dtype == "int8":  # symmetric
        qmax = 64 if reduce_range else 127
        absmax = np.abs(rows).max(axis=1)
        scale = np.where(absmax > 0, absmax / qmax, 1.0).reshape(shape)
        return np.clip(np.round(w / scale), -qmax, qmax) * scale
    qmax = 127 if reduce_range else 255  # uint8: asymmetric over a range that contains zero
    low, high = np.minimum(rows.min(axis=1), 0.0), np.maximum(rows.max(axis=1), 0.0)
    scale = np.where(high > low, (high - low) / qmax, 1.0).reshape(shape)
    zero = np.round(-low.reshape(shape) / scale)
    return (np.clip(np.round(w / scale) + zero, 0, qmax) - zero) * scale


def _mean_shift(w: np.ndarray, dw: np.ndarray, mean: np.ndarray, group: int) -> np.ndarray:
    """Per output channel, sum over its inputs and kernel of dW * E[x] (grouped convs see their own inputs)."""
    out_per_group, in_per_group = w.shape[0] // group, w.shape[1]
    per_input = dw.sum(axis=tuple(range(2, dw.ndim)))  # (out, in_per_group): kernel summed, any conv rank
    shift = np.empty(w.shape[0])
    for g in range(group):
        rows = slice(g * out_per_group, (g + 1) * out_per_group)
        shift[rows] = per_input[rows] @ mean[g * in_per_group : (g + 1) * in_per_group]
    return shift
