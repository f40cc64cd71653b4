"""Structured pruning: physically remove conv output channels, so the artifact is smaller *and* faster.

Zeros do not make CPU kernels faster; fewer channels do. A channel can go only if everything that makes or
reads it can lose it too, so the pass finds *channel spaces* in the ONNX graph: tensors that share channel
indexing through per-channel ops (Relu, Clip, pooling), depthwise convs (one to one) and residual Adds (both
operands), and a Flatten of a 1x1 map (a global pool's output, where channel c becomes feature c). A space is
prunable when it is made only by plain convs (which lose output channels) and read only by plain convs or Gemms
(which lose input channels): MobileNet's expand -> depthwise -> project chains, its residual streams, and its
last conv that feeds the classifier through a global pool. A space that meets a Concat, a Flatten of a larger
map, a constant operand or the graph's inputs or outputs is left whole. Within a space the lowest-importance
channels go (L1 norm of the making filters, which after cleanup's BatchNorm folding also carries the BN scale;
or the mean |activation| where they are read), and the kept count is rounded to the nearest multiple of 16
(`align`), the channel tile of XNNPACK's and MLAS's int8 kernels, so the share removed stays near `ratio` on
average. On MobileNetV2 at ratio 0.4, odd counts (14, 10) or multiples of 8 left LiteRT at 0.73x of the
unpruned latency; multiples of 16 brought it to 0.70x. `allocate=cost` removes the same total but more where a
channel costs more (the early, high-resolution layers): 0.60x in LiteRT, 0.39x in ORT (bench/prune_channels.py).

Recovery without training (`recovery`): `refit` (the default) solves each reader's weights again by least squares
so its outputs match the unpruned ones (compiler/channel_refit.py), one calibration pass per reader; `mean`
only adds what a removed channel contributed on average (its mean on calibration data times the reader's
weights) to each reader's bias; `none` leaves the readers as they were. On the digits demo at ratio 0.5 the
float model keeps 98.1% top-1 with refit, 9.7% with mean and 12.2% with none (dense: 99.4%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..activations import channel_moments
from ..channel_refit import refit_readers
from ..errors import InputError, require
from ..kinds import Model, OnnxModel
from ..macs import node_macs
from ..onnx_attrs import conv_group
from ..weight_edits import bias, read, set_bias
from .base import Context, Pass, PassResult
from .prune import matches_any

CHANNELWISE = ("Relu", "Clip", "LeakyRelu", "MaxPool", "AveragePool", "Identity")
CRITERIA = ("l1", "activation")
RECOVERIES = ("none", "mean", "refit")
ALLOCATIONS = ("uniform", "cost")
MAX_GROUP_RATIO = 0.75  # `allocate=cost` never removes more than this share of one group


@dataclass
class _Group:
    """One channel space: convs that make its channels (several when residual Adds join them), depthwise
    convs that carry them one to one, Flattens or Reshapes of a 1x1 map that turn them into features, and convs
    or Gemms that read them as input channels."""

    roots: list[Any]
    depthwise: list[Any]
    flattens: list[Any]
    readers: list[Any]

    @property
    def name(self) -> str:
        return self.roots[0].name


@dataclass(frozen=True)
class PruneChannels(Pass):
    name: ClassVar[str] = "prune-channels"
    accepts: ClassVar[str] = "onnx"
    produces: ClassVar[str] = "onnx"
    uses_calibration: ClassVar[bool] = True  # the activation criterion; harmless for l1
    libraries: ClassVar[tuple[str, ...]] = ("onnx", "onnxruntime")

    ratio: float = 0.4  # share of each group's channels removed
    criterion: str = "l1"
    exclude: tuple[str, ...] = ()  # root conv name patterns (fnmatch) left whole
    recovery: str = "refit"
    align: int = 16  # kept counts rounded to a multiple of this: XNNPACK's and MLAS's int8 channel tiles
    allocate: str = "uniform"  # or "cost": each group's share grows with what one of its channels costs
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {self.criterion!r}")
        if self.allocate not in ALLOCATIONS:
            raise ValueError(f"allocate must be one of {', '.join(ALLOCATIONS)}, got {self.allocate!r}")
        if self.recovery not in RECOVERIES:
            raise ValueError(f"recovery must be one of {', '.join(RECOVERIES)}, got {self.recovery!r}")
        if not 0.0 <= self.ratio < 1.0:
            raise ValueError(f"ratio must be in [0, 1), got {self.ratio}")

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, OnnxModel)
        onnx = require("onnx")
        proto, weights = model.editable_copy()
        shaped = onnx.shape_inference.infer_shapes(model.proto).graph
        shapes = {v.name: _dims(v) for v in (*shaped.value_info, *shaped.input, *shaped.output)}
        groups = [
            g
            for g in _groups(proto.graph, weights, shapes)
            if not any(matches_any(r.name, self.exclude) for r in g.roots)
        ]
        if not groups:
            raise InputError(
                "prune-channels found no conv whose output channels only feed other convs or Gemms (every conv "
                "output meets a Concat, a Flatten of a map larger than 1x1, a constant operand or the graph "
                "output); nothing can be removed structurally"
            )
        means = self._means(model, groups, ctx)
        importance = self._importance(groups, weights, means, onnx)
        kept = self._kept_counts(groups, weights, shaped)
        removed, readers, kept_outputs = {}, [], {}
        for group in groups:
            scores = importance[group.name]
            keep_count = kept[group.name]
            keep = np.sort(np.argsort(-scores, kind="stable")[:keep_count])
            if keep_count < len(scores):
                if self.recovery == "mean":
                    _compensate(group, keep, weights, means, proto)
                _apply(group, keep, weights, proto, onnx)
                removed[group.name] = f"{len(scores)} -> {keep_count}"
                readers += group.readers
                kept_outputs.update({root.name: keep for root in group.roots})
        if self.recovery == "refit" and readers:
            assert ctx.calibration is not None
            refit_readers(model, proto, weights, readers, kept_outputs, ctx.calibration, self.batch_size)
        del proto.graph.value_info[:]  # shapes changed: infer them again (MAC counts and later passes read them)
        output = OnnxModel(onnx.shape_inference.infer_shapes(proto))
        params_before, params_after = _params(model.proto), _params(proto)
        details = {"channels": removed, "params_before": params_before, "params_after": params_after}
        return PassResult(output, modified=bool(removed), details=details)

    def _kept_counts(self, groups: list[_Group], weights: dict[str, Any], shaped: Any) -> dict[str, int]:
        """Channels each group keeps. `uniform`: `ratio` of every group goes. `cost`: a group's share grows in
        proportion to the MACs one of its channels costs (capped at MAX_GROUP_RATIO), scaled to the smallest
        shares whose aligned counts remove at least `ratio` of all channels. A channel of an early,
        high-resolution layer costs a hundred times what one of the last layers does, and those layers' memory
        traffic is what bounds XNNPACK's int8 speed once the MACs have gone."""
        channels = {g.name: int(weights[g.roots[0].input[1]].dims[0]) for g in groups}
        if self.allocate == "uniform":
            return {name: _aligned(n, self.ratio, self.align) for name, n in channels.items()}
        from onnx import ModelProto

        model = ModelProto()
        model.graph.CopyFrom(shaped)
        macs = node_macs(OnnxModel(model))
        cost = {
            g.name: sum(macs.get(n.name, 0) for n in (*g.roots, *g.depthwise, *g.readers)) / channels[g.name]
            for g in groups
        }
        total = sum(channels.values())
        mean_cost = sum(cost[n] * channels[n] for n in cost) / total

        def kept(scale: float) -> dict[str, int]:
            share = {n: min(MAX_GROUP_RATIO, scale * self.ratio * cost[n] / mean_cost) for n in cost}
            return {n: _aligned(channels[n], share[n], self.align) for n in cost}

        low, high = 0.0, 1e3
        for _ in range(60):  # fewer channels are kept as the scale grows: bisect for the smallest enough
            middle = (low + high) / 2
            removed = 1 - sum(kept(middle).values()) / total
            low, high = (middle, high) if removed < self.ratio else (low, middle)
        return kept(high)

    def _means(self, model: OnnxModel, groups: list[_Group], ctx: Context) -> dict[str, np.ndarray]:
        """Per-channel mean of each reading conv's input, on calibration data."""
        if ctx.calibration is None and (self.recovery != "none" or self.criterion != "l1"):
            raise InputError(
                "prune-channels needs calibration data for its activation statistics: pass --calib data.npz "
                "(or prune-channels{criterion=l1,recovery=none})"
            )
        if self.recovery != "mean" and self.criterion == "l1":
            return {}
        assert ctx.calibration is not None
        names = sorted({r.input[0] for g in groups for r in g.readers})
        moments = channel_moments(model, ctx.calibration, names, self.batch_size)
        return {name: m.mean for name, m in moments.items()}

    def _importance(
        self, groups: list[_Group], weights: dict[str, Any], means: dict[str, np.ndarray], onnx: Any
    ) -> dict[str, np.ndarray]:
        if self.criterion == "activation":  # mean |activation| where the channels are read
            return {g.name: np.sum([np.abs(means[r.input[0]]) for r in g.readers], axis=0) for g in groups}
        return {g.name: np.sum([_filter_l1(r, weights, onnx) for r in g.roots], axis=0) for g in groups}


def _groups(graph: Any, weights: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> list[_Group]:
    """Every channel space (tensors that share channel indexing) whose channels can be removed together."""
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    boundary = {o.name for o in graph.output} | {i.name for i in graph.input}
    seen: set[str] = set()
    groups = []
    for node in graph.node:
        if _plain_conv(node, weights) and node.output[0] not in seen:
            group = _space(node.output[0], producer, consumers, boundary, weights, shapes, seen)
            if group is not None and group.readers:
                groups.append(group)
    return groups


def _space(
    start: str,
    producer: dict[str, Any],
    consumers: dict[str, list[Any]],
    boundary: set[str],
    weights: dict[str, Any],
    shapes: dict[str, tuple[int, ...]],
    seen: set[str],
) -> _Group | None:
    """Walk the channel space of `start` both ways: through per-channel ops, depthwise convs, residual Adds and
    flattened 1x1 maps. It is prunable when every tensor in it is made by a plain or depthwise conv or one of
    those ops and read only by them or by plain convs and Gemms (which lose input channels); anything else
    (Concat, a Flatten of a larger map, a constant operand, the graph's inputs or outputs) leaves the whole
    space as it is."""
    roots: list[Any] = []
    depthwise: list[Any] = []
    flattens: dict[str, Any] = {}
    readers: list[Any] = []
    prunable, stack = True, [start]
    while stack:
        tensor = stack.pop()
        if tensor in seen:
            continue
        seen.add(tensor)
        made_by = producer.get(tensor)
        if tensor in boundary or made_by is None:
            prunable = False
        elif _plain_conv(made_by, weights):
            roots.append(made_by)
        elif _depthwise(made_by, weights):
            depthwise.append(made_by)
            stack.append(made_by.input[0])
        elif made_by.op_type in CHANNELWISE:
            stack.append(made_by.input[0])
        elif made_by.op_type == "Add" and _carries_channels(made_by, tensor, weights, shapes):
            stack.extend(made_by.input)
        elif _flattens(made_by, made_by.input[0], weights, shapes):
            flattens[made_by.output[0]] = made_by
            stack.append(made_by.input[0])
        else:
            prunable = False
        for node in consumers.get(tensor, []):
            if _reader(node, tensor, weights):
                readers.append(node)
            elif _flattens(node, tensor, weights, shapes):
                flattens[node.output[0]] = node
                stack.append(node.output[0])
            elif _carries_channels(node, tensor, weights, shapes):
                stack.append(node.output[0])
            else:
                prunable = False
    if not prunable or not roots:
        return None
    channels = {int(weights[c.input[1]].dims[0]) for c in roots + depthwise}
    return _Group(roots, depthwise, list(flattens.values()), readers) if len(channels) == 1 else None


def _carries_channels(node: Any, tensor: str, weights: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> bool:
    """The node's output has `tensor`'s channels, one to one: a depthwise conv, a per-channel op, a residual Add."""
    if node.op_type == "Add":
        return not any(i in weights for i in node.input)
    return node.input[0] == tensor and (_depthwise(node, weights) or node.op_type in CHANNELWISE)


def _flattens(node: Any, tensor: str, weights: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> bool:
    """A Flatten, or a Reshape by a constant shape, of an (N, C, 1, ..., 1) map into (N, C): channel c becomes
    feature c, as after a global pool."""
    shape, flat = shapes.get(tensor, ()), shapes.get(node.output[0], ())
    one_by_one = len(shape) > 2 and all(d == 1 for d in shape[2:]) and flat[1:] == shape[1:2]
    if node.op_type == "Flatten":
        return one_by_one and next((a.i for a in node.attribute if a.name == "axis"), 1) == 1
    return node.op_type == "Reshape" and node.input[0] == tensor and node.input[1] in weights and one_by_one


def _reader(node: Any, tensor: str, weights: dict[str, Any]) -> bool:
    """A layer that can lose input channels: a plain conv or a Gemm (no alpha/beta scaling) reading `tensor`."""
    if node.input[0] != tensor:
        return False
    if node.op_type == "Gemm":
        scaled = any(a.name in ("alpha", "beta") and a.f != 1.0 for a in node.attribute)
        transposed_a = any(a.name == "transA" and a.i for a in node.attribute)
        outputs = weights[node.input[1]].dims[_reader_axis(node) - 1] if node.input[1] in weights else 0
        per_output_bias = bias(node, weights, outputs) is not None
        return node.input[1] in weights and not scaled and not transposed_a and per_output_bias
    return _plain_conv(node, weights)


def _reader_axis(node: Any) -> int:
    """The weight axis that indexes input channels: conv (out, in, k...), Gemm B (out, in) when transposed."""
    if node.op_type == "Gemm" and not any(a.name == "transB" and a.i for a in node.attribute):
        return 0
    return 1


def _dims(value: Any) -> tuple[int, ...]:
    return tuple(d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim)


def _plain_conv(node: Any, weights: dict[str, Any]) -> bool:
    return node.op_type == "Conv" and node.input[1] in weights and conv_group(node) == 1


def _depthwise(node: Any, weights: dict[str, Any]) -> bool:
    if node.op_type != "Conv" or node.input[1] not in weights:
        return False
    dims = weights[node.input[1]].dims
    return conv_group(node) == dims[0] and dims[1] == 1


def _apply(group: _Group, keep: np.ndarray, weights: dict[str, Any], proto: Any, onnx: Any) -> None:
    def take(name: str, axis: int) -> None:
        tensor = weights[name]
        values = np.take(onnx.numpy_helper.to_array(tensor), keep, axis=axis)
        tensor.CopyFrom(onnx.numpy_helper.from_array(values, name))

    for conv in (*group.roots, *group.depthwise):
        take(conv.input[1], 0)
        if len(conv.input) > 2 and conv.input[2]:
            take(conv.input[2], 0)
    for conv in group.depthwise:
        for attribute in conv.attribute:
            if attribute.name == "group":
                attribute.i = len(keep)
    for reader in group.readers:
        take(reader.input[1], _reader_axis(reader))
    for reshape in (n for n in group.flattens if n.op_type == "Reshape"):  # its shape constant names C
        name = f"{reshape.output[0]}_pruned_shape"
        proto.graph.initializer.append(onnx.numpy_helper.from_array(np.array([-1, len(keep)], np.int64), name))
        old, reshape.input[1] = reshape.input[1], name
        if not any(old in node.input for node in proto.graph.node):  # runtimes warn about unused initializers
            proto.graph.initializer.remove(weights.pop(old))


def _compensate(
    group: _Group, keep: np.ndarray, weights: dict[str, Any], means: dict[str, np.ndarray], proto: Any
) -> None:
    """Fold the removed channels' mean contribution into each reader's bias."""
    for conv in group.readers:
        w = np.moveaxis(read(weights, conv.input[1]), _reader_axis(conv), 1)
        dropped = np.setdiff1d(np.arange(w.shape[1]), keep)
        per_input = w[:, dropped].sum(axis=tuple(range(2, w.ndim)))  # (out, dropped)
        shift = per_input @ means[conv.input[0]][dropped]
        current = bias(conv, weights, len(shift))
        assert current is not None  # readers are convs and unscaled Gemms whose bias is per output
        set_bias(proto, conv, weights, current + shift)


def _filter_l1(conv: Any, weights: dict[str, Any], onnx: Any) -> np.ndarray:
    w = onnx.numpy_helper.to_array(weights[conv.input[1]])
    return np.abs(w.astype(np.float64)).reshape(w.shape[0], -1).sum(axis=1)


def _aligned(channels: int, ratio: float, align: int) -> int:
    """Channels to keep: (1 - ratio) of them, rounded to the nearest multiple of `align`, or of the largest
    power-of-two fraction of it that a small group still holds twice (24 channels keep 16, not 14)."""
    keep = max(1, round(channels * (1 - ratio)))
    while align > 1 and channels < 2 * align:
        align //= 2
    return min(channels, max(align, round(keep / align) * align))


def _params(proto: Any) -> int:
    return sum(math.prod(init.dims) for init in proto.graph.initializer)
