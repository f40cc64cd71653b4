"""A weight layer's input as the rows its weight rows multiply, and their Gram matrix over calibration data.

A conv output is a dot product of one filter with one input patch; laid out as rows (im2col), every
Conv/Gemm/MatMul becomes `Y = X W^T`, and the squared error of any change to W is a quadratic form in
H = X^T X. That one matrix is what optimal-brain-surgeon pruning (SparseGPT) and least-squares refitting of a
pruned layer's readers both solve with. It is accumulated batch by batch in float64: the patches of a whole
calibration set never sit in memory at once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .activations import stream
from .data import Dataset
from .kinds import OnnxModel
from .onnx_attrs import conv_group


def _ints(node: Any, name: str, default: list[int]) -> list[int]:
    found = next((list(a.ints) for a in node.attribute if a.name == name), None)
    return found if found else default


def supported(node: Any) -> bool:
    """Layers whose input rows this module can lay out: ungrouped convs with explicit pads, Gemm, MatMul."""
    if node.op_type == "Conv":
        auto_pad = next((a.s for a in node.attribute if a.name == "auto_pad"), b"NOTSET")
        return conv_group(node) == 1 and auto_pad in (b"NOTSET", b"")
    if node.op_type == "Gemm":
        return not any(a.name == "transA" and a.i for a in node.attribute)
    return node.op_type == "MatMul"


def weight_rows(node: Any, w: np.ndarray) -> np.ndarray:
    """The weights as (outputs, inputs): a conv's filters flattened, a Gemm/MatMul's B with outputs first."""
    if node.op_type == "Conv":
        return w.reshape(w.shape[0], -1)
    return w if node.op_type == "Gemm" and transposed_b(node) else w.T


def weight_from_rows(node: Any, values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """weight_rows undone: (outputs, inputs) back to the layer's own weight layout."""
    if node.op_type == "Conv":
        return values.reshape(shape)
    return values if node.op_type == "Gemm" and transposed_b(node) else values.T


def rows(node: Any, x: np.ndarray, kernel: tuple[int, ...]) -> np.ndarray:
    """The input as (positions, features), features ordered as a weight row flattens: (C, k...) for a conv."""
    if node.op_type != "Conv":
        return x.reshape(-1, x.shape[-1])
    spatial = len(kernel)
    pads = _ints(node, "pads", [0] * 2 * spatial)
    strides = _ints(node, "strides", [1] * spatial)
    dilations = _ints(node, "dilations", [1] * spatial)
    padded = np.pad(x, [(0, 0), (0, 0), *zip(pads[:spatial], pads[spatial:], strict=True)])
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    windows = np.lib.stride_tricks.sliding_window_view(padded, spans, axis=tuple(range(2, 2 + spatial)))
    # windows: (N, C, *positions, *spans); keep every stride-th position and every dilation-th tap
    picked = windows[
        (slice(None), slice(None), *(slice(None, None, s) for s in strides), *(slice(None, None, d) for d in dilations))
    ]
    n, channels = picked.shape[:2]
    positions = picked.shape[2 : 2 + spatial]
    order = (0, *range(2, 2 + spatial), 1, *range(2 + spatial, 2 + 2 * spatial))
    return picked.transpose(order).reshape(n * math.prod(positions), channels * math.prod(kernel))


def input_grams(
    model: OnnxModel, data: Dataset, layers: list[Any], kernels: dict[str, tuple[int, ...]], batch: int
) -> dict[str, np.ndarray]:
    """{layer name: X^T X of its input rows, with a trailing ones column for the bias} over `data`."""
    names = sorted({node.input[0] for node in layers})
    grams: dict[str, np.ndarray] = {}
    for values in stream(model, data, names, batch):
        for node in layers:
            x = rows(node, values[node.input[0]].astype(np.float64), kernels[node.name])
            x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
            grams[node.name] = grams.get(node.name, 0.0) + x.T @ x
    return grams


def transposed_b(node: Any) -> bool:
    return any(a.name == "transB" and a.i for a in node.attribute)
