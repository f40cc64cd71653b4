"""Unstructured weight pruning of an ONNX model: magnitude, activation-aware (Wanda), or OBS (SparseGPT).

Magnitude pruning zeroes each layer's smallest |W|. Wanda (Sun et al., 2023) scores |W_oi| * ||x_i||, the
weight times the L2 norm of the input feature it multiplies, measured on calibration data: a small weight on
a loud input survives, a big weight on a silent one does not. SparseGPT (Frantar & Alistarh, 2023) goes
further with the same data: it picks weights by their optimal-brain-surgeon cost and moves the weights that
stay (and the bias) to make up for the ones that go (compiler/sparsegpt.py). None of them retrains.

Measured on a trained Fashion-MNIST CNN (bench/prune_unstructured.py), Wanda's score alone does not beat
magnitude on a CNN: its premise, a few input features far louder than the rest, is an LLM's. The weight
update is what keeps a CNN's accuracy, so `sparsegpt` is the activation-aware method to use there.

Zeros are what int8 keeps exactly (0 quantizes to the zero point), so sparsity survives quantization; it buys
a smaller *compressed* image (flash images are often compressed), not speed: neither ONNX Runtime's nor
LiteRT's CPU kernels skip zero weights. The report says both.
"""

from __future__ import annotations

import fnmatch
import math
import zlib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..activations import channel_moments
from ..errors import InputError
from ..kinds import Model, OnnxModel
from ..layer_inputs import input_grams, supported, transposed_b, weight_from_rows, weight_rows
from ..onnx_attrs import conv_group
from ..sparsegpt import lowest_share, obs_prune
from ..weight_edits import bias, read, set_bias, write
from .base import Context, Pass, PassResult

METHODS = ("magnitude", "wanda", "sparsegpt")
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
    uses_calibration: ClassVar[bool] = True  # wanda's input norms, sparsegpt's Gram matrices
    libraries: ClassVar[tuple[str, ...]] = ("onnx", "onnxruntime")

    sparsity: float = 0.5
    method: str = "sparsegpt"
    scope: str = "layer"  # which weights compete: each layer's, each output's, or all layers' together
    exclude: tuple[str, ...] = ()  # node-name patterns (fnmatch) left dense
    min_fan_in: int = 32  # layers with fewer inputs per output (a 1- or 3-channel first conv) stay dense
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.method == "sparsegpt" and self.scope == "global":
            raise ValueError("sparsegpt prunes layer by layer: scope must be layer or output")
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {self.sparsity}")

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, OnnxModel)
        proto, weights = model.editable_copy()
        layers = [
            n
            for n in proto.graph.node
            if n.op_type in PRUNABLE
            and len(n.input) > 1
            and n.input[1] in weights
            and (n.op_type != "MatMul" or len(weights[n.input[1]].dims) == 2)
            and not matches_any(n.name, self.exclude)
            and _fan_in(n, tuple(weights[n.input[1]].dims)) >= self.min_fan_in
        ]
        if not layers:
            raise InputError(
                f"prune: no Conv, Gemm or MatMul with constant weights and a fan-in of at least {self.min_fan_in} "
                f"left to prune (exclude={list(self.exclude)}); lower min_fan_in or the exclusions"
            )
        if self.method != "magnitude" and ctx.calibration is None:
            raise InputError(f"prune{{method={self.method}}} needs calibration data: pass --calib data.npz")
        rows = {n.name: weight_rows(n, read(weights, n.input[1])) for n in layers}
        updated = self._sparsegpt(model, proto, layers, rows, weights, ctx) if self.method == "sparsegpt" else set()
        masked = [n for n in layers if n.name not in updated]
        self._mask(model, masked, rows, weights, ctx)
        per_layer = {}
        for node in layers:
            write(weights, node.input[1], weight_from_rows(node, rows[node.name], tuple(weights[node.input[1]].dims)))
            per_layer[node.name] = round(float((rows[node.name] == 0).mean()), 4)
        output = OnnxModel(proto)
        details = {
            "layer_sparsity": per_layer,
            "bytes": len(output.to_bytes()),
            "compressed_bytes": len(zlib.compress(output.to_bytes(), 9)),
            "compressed_bytes_before": len(zlib.compress(model.to_bytes(), 9)),
        }
        return PassResult(output, modified=self.sparsity > 0, details=details)

    def _mask(
        self, model: OnnxModel, layers: list[Any], rows: dict[str, np.ndarray], weights: dict[str, Any], ctx: Context
    ) -> None:
        """Zero the lowest-scoring weights in place: |W|, or |W| x input norm (Wanda; sparsegpt's fallback for
        grouped convs)."""
        if not layers:
            return
        norms = self._input_norms(model, layers, ctx) if self.method != "magnitude" else {}
        scores = {}
        for node in layers:
            w = weight_from_rows(node, rows[node.name], tuple(weights[node.input[1]].dims))
            score = np.abs(w)
            if norms:
                score = score * _broadcast_norms(node, w, norms[node.input[0]])
            scores[node.name] = weight_rows(node, score)
        if self.scope == "global":
            # Wanda scores carry each layer's activation scale: normalize by the layer's mean to compete fairly
            flat = np.concatenate([s.ravel() / (s.mean() or 1.0) for s in scores.values()])
            threshold = float(np.quantile(flat, self.sparsity)) if self.sparsity > 0 else -1.0
            pruned = {name: s / (s.mean() or 1.0) <= threshold for name, s in scores.items()}
        else:
            pruned = {name: lowest_share(s, self.sparsity, self.scope == "output") for name, s in scores.items()}
        for name, mask in pruned.items():
            rows[name] = np.where(mask, 0.0, rows[name])

    def _sparsegpt(
        self,
        model: OnnxModel,
        proto: Any,
        layers: list[Any],
        rows: dict[str, np.ndarray],
        weights: dict[str, Any],
        ctx: Context,
    ) -> set[str]:
        """OBS-prune every layer whose input rows can be laid out; return their names (the rest get Wanda)."""
        assert ctx.calibration is not None
        chosen = [n for n in layers if supported(n)]
        kernels = {n.name: tuple(weights[n.input[1]].dims[2:]) for n in chosen}
        grams = input_grams(model, ctx.calibration, chosen, kernels, self.batch_size)
        per_output = self.scope == "output"
        for node in chosen:
            gram = grams[node.name]
            current = bias(node, weights, len(rows[node.name])) if node.op_type != "MatMul" else None
            if current is None:  # no per-output bias to absorb the mean shift: drop the ones column
                rows[node.name] = obs_prune(rows[node.name], gram[:-1, :-1], self.sparsity, per_output, False)
                continue
            full = np.concatenate([rows[node.name], current[:, None]], axis=1)
            new = obs_prune(full, gram, self.sparsity, per_output)
            rows[node.name] = new[:, :-1]
            set_bias(proto, node, weights, new[:, -1])
        return {n.name for n in chosen}

    def _input_norms(self, model: OnnxModel, layers: list[Any], ctx: Context) -> dict[str, np.ndarray]:
        """L2 norm of each input feature (conv: channel; gemm/matmul: last axis) over the calibration data."""
        assert ctx.calibration is not None
        names = sorted({n.input[0] for n in layers})
        channel_axis = {n.input[0]: 1 if n.op_type == "Conv" else -1 for n in layers}
        moments = channel_moments(model, ctx.calibration, names, self.batch_size, channel_axis)
        # the RMS is the L2 norm over the same count for every feature of a tensor: the ranking is the same
        return {name: np.sqrt(m.mean_square) for name, m in moments.items()}


def _fan_in(node: Any, dims: tuple[int, ...]) -> int:
    """Inputs each output reads: a conv's C/groups x kernel taps, a Gemm/MatMul's input features. A first conv
    on a grey image has 9: half of them gone is a different filter, and they weigh nothing in the file."""
    if node.op_type == "Conv":
        return math.prod(dims[1:])
    return dims[1] if node.op_type == "Gemm" and transposed_b(node) else dims[0]


def _broadcast_norms(node: Any, w: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """The input norms laid out like the weight tensor, so score = |W| * norm is one multiply."""
    if node.op_type == "Conv":
        groups, per_group = conv_group(node), w.shape[1]
        out_per_group = w.shape[0] // groups
        first_input = (np.arange(w.shape[0]) // out_per_group) * per_group  # of each output's group
        rows = norms[first_input[:, None] + np.arange(per_group)[None, :]]
        return rows.reshape(w.shape[0], per_group, *([1] * (w.ndim - 2)))
    if node.op_type == "Gemm" and transposed_b(node):
        return norms.reshape(1, -1)  # W is (out, in)
    return norms.reshape(-1, 1)  # MatMul / plain Gemm: W is (in, out)
