"""Unstructured weight pruning of an ONNX model: magnitude, or activation-aware (Wanda).

Magnitude pruning zeroes each layer's smallest |W|. Wanda (Sun et al., 2023) scores |W_oi| * ||x_i||, the
weight times the L2 norm of the input feature it multiplies, measured on calibration data, and prunes that
score per output (each output keeps the same share of its inputs): a small weight on a loud input survives,
a big weight on a silent one does not. No retraining in either.

Zeros are what int8 keeps exactly (0 quantizes to the zero point), so sparsity survives quantization; it buys
a smaller *compressed* image (flash images are often compressed), not speed: neither ONNX Runtime's nor
LiteRT's CPU kernels skip zero weights. The report says both.
"""

from __future__ import annotations

import fnmatch
import zlib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..activations import channel_moments
from ..errors import InputError, require
from ..kinds import Model, OnnxModel
from .base import Context, Pass, PassResult
from .equalize import conv_group

METHODS = ("magnitude", "wanda")
SCOPES = ("layer", "output", "global")
PRUNABLE = ("Conv", "Gemm", "MatMul")


def matches_any(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether a node name matches one of the user's `exclude` patterns (fnmatch, as shells glob)."""
    return any(fnmatch.fnmatch(name, p) for p in patterns)


@dataclass(frozen=True)
class Prune(Pass):
    name: ClassVar[str] = "prune"
    accepts: ClassVar[str] = "onnx"
    produces: ClassVar[str] = "onnx"
    uses_calibration: ClassVar[bool] = True  # wanda's input norms; harmless for magnitude
    libraries: ClassVar[tuple[str, ...]] = ("onnx", "onnxruntime")

    sparsity: float = 0.5
    method: str = "wanda"
    scope: str = "layer"  # which weights compete: each layer's, each output's, or all layers' together
    exclude: tuple[str, ...] = ()  # node-name patterns (fnmatch) left dense
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {self.sparsity}")

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, OnnxModel)
        onnx = require("onnx")
        proto, weights = model.editable_copy()
        layers = [
            n
            for n in proto.graph.node
            if n.op_type in PRUNABLE
            and len(n.input) > 1
            and n.input[1] in weights
            and not matches_any(n.name, self.exclude)
        ]
        if not layers:
            raise InputError(f"prune: no Conv, Gemm or MatMul with constant weights left to prune ({self.exclude})")
        norms = self._input_norms(model, layers, ctx) if self.method == "wanda" else {}
        scores = {}
        for node in layers:
            w = onnx.numpy_helper.to_array(weights[node.input[1]])
            scores[node.name] = np.abs(w.astype(np.float64))
            if self.method == "wanda":
                scores[node.name] = scores[node.name] * _broadcast_norms(node, w, norms[node.input[0]])
        threshold = _global_threshold(scores, self.sparsity) if self.scope == "global" else None
        per_layer = {}
        for node in layers:
            tensor = weights[node.input[1]]
            w = onnx.numpy_helper.to_array(tensor)
            if threshold is not None:
                keep = scores[node.name] > threshold
            else:
                keep = _keep_mask(node, scores[node.name], self.sparsity, per_output=self.scope == "output")
            pruned = np.where(keep, w, 0)
            tensor.CopyFrom(onnx.numpy_helper.from_array(pruned.astype(w.dtype), tensor.name))
            per_layer[node.name] = round(float((pruned == 0).mean()), 4)
        output = OnnxModel(proto)
        details = {
            "layer_sparsity": per_layer,
            "bytes": len(output.to_bytes()),
            "compressed_bytes": len(zlib.compress(output.to_bytes(), 9)),
            "compressed_bytes_before": len(zlib.compress(model.to_bytes(), 9)),
        }
        return PassResult(output, modified=self.sparsity > 0, details=details)

    def _input_norms(self, model: OnnxModel, layers: list[Any], ctx: Context) -> dict[str, np.ndarray]:
        """L2 norm of each input feature (conv: channel; gemm/matmul: last axis) over the calibration data."""
        if ctx.calibration is None:
            raise InputError("prune{method=wanda} needs calibration data: pass --calib data.npz")
        names = sorted({n.input[0] for n in layers})
        channel_axis = {n.input[0]: 1 if n.op_type == "Conv" else -1 for n in layers}
        moments = channel_moments(model, ctx.calibration, names, self.batch_size, channel_axis)
        # the RMS is the L2 norm over the same count for every feature of a tensor: the ranking is the same
        return {name: np.sqrt(m.mean_square) for name, m in moments.items()}


def _broadcast_norms(node: Any, w: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """The input norms laid out like the weight tensor, so score = |W| * norm is one multiply."""
    if node.op_type == "Conv":
        groups, per_group = conv_group(node), w.shape[1]
        out_per_group = w.shape[0] // groups
        first_input = (np.arange(w.shape[0]) // out_per_group) * per_group  # of each output's group
        rows = norms[first_input[:, None] + np.arange(per_group)[None, :]]
        return rows.reshape(w.shape[0], per_group, *([1] * (w.ndim - 2)))
    if node.op_type == "Gemm" and _transposed_b(node):
        return norms.reshape(1, -1)  # W is (out, in)
    return norms.reshape(-1, 1)  # MatMul / plain Gemm: W is (in, out)


def _keep_mask(node: Any, scores: np.ndarray, sparsity: float, per_output: bool) -> np.ndarray:
    """True for the weights to keep: the highest scores, per layer or per output."""
    if not per_output:
        cut = round(sparsity * scores.size)
        order = np.argsort(scores, axis=None, kind="stable")
        keep = np.ones(scores.size, dtype=bool)
        keep[order[:cut]] = False
        return keep.reshape(scores.shape)
    output_axis = 0 if node.op_type == "Conv" or (node.op_type == "Gemm" and _transposed_b(node)) else -1
    moved = np.moveaxis(scores, output_axis, 0)
    rows = moved.reshape(moved.shape[0], -1)
    cut = round(sparsity * rows.shape[1])
    ranks = np.argsort(np.argsort(rows, axis=1, kind="stable"), axis=1)
    return np.moveaxis((ranks >= cut).reshape(moved.shape), 0, output_axis)


def _global_threshold(scores: dict[str, np.ndarray], sparsity: float) -> float:
    """The score below which the `sparsity` share of all weights falls. Wanda scores carry each layer's
    activation scale, so they are first normalized by their layer's mean to compete fairly."""
    flat = np.concatenate([s.ravel() / (s.mean() or 1.0) for s in scores.values()])
    for name in scores:
        scores[name] = scores[name] / (scores[name].mean() or 1.0)
    return float(np.quantile(flat, sparsity)) if sparsity > 0 else -1.0


def _transposed_b(node: Any) -> bool:
    return any(a.name == "transB" and a.i for a in node.attribute)
