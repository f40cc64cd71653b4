"""Structured pruning: physically remove conv output channels, so the artifact is smaller *and* faster.

Zeros do not make CPU kernels faster; fewer channels do. A channel can go only if everything that makes or
reads it can lose it too, so the pass finds *channel spaces* in the ONNX graph: tensors that share channel
indexing through per-channel ops (Relu, Clip, pooling), depthwise convs (one to one) and residual Adds (both
operands). A space is prunable when it is made only by plain convs (which lose output channels) and read only
by plain convs (which lose input channels): MobileNet's expand -> depthwise -> project chains and its residual
streams. A space that meets a Concat, a Flatten, a constant operand or the graph's inputs or outputs is left
whole. Within a space the lowest-importance channels go (L1 norm of the making filters, which after cleanup's
BatchNorm folding also carries the BN scale; or the mean |activation| where they are read), and the kept count
is rounded up to a multiple of 8, the vector width int8 kernels use.

Recovery without training (`compensate`, on by default): a removed channel's mean output still reached the next
convs; its mean (measured on calibration data where those convs read it) times their weights is added to their
bias, so the next layer's output keeps its mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..activations import channel_moments
from ..errors import InputError, require
from ..kinds import Model, OnnxModel
from .base import Context, Pass, PassResult
from .equalize import conv_group
from .prune import matches_any

CHANNELWISE = ("Relu", "Clip", "LeakyRelu", "MaxPool", "AveragePool", "Identity")
CRITERIA = ("l1", "activation")
ALIGN = 8


@dataclass
class _Group:
    """One channel space: convs that make its channels (several when residual Adds join them), depthwise
    convs that carry them one to one, and convs that read them as input channels."""

    roots: list[Any]
    depthwise: list[Any]
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
    compensate: bool = True
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {self.criterion!r}")
        if not 0.0 <= self.ratio < 1.0:
            raise ValueError(f"ratio must be in [0, 1), got {self.ratio}")

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, OnnxModel)
        onnx = require("onnx")
        proto, weights = model.editable_copy()
        groups = [
            g for g in _groups(proto.graph, weights) if not any(matches_any(r.name, self.exclude) for r in g.roots)
        ]
        if not groups:
            raise InputError(
                "prune-channels found no conv whose output channels only feed other convs (every conv output "
                "meets a residual Add, Concat, Flatten or the graph output); nothing can be removed structurally"
            )
        means = self._means(model, groups, ctx)
        importance = self._importance(groups, weights, means, onnx)
        removed = {}
        for group in groups:
            scores = importance[group.name]
            keep_count = _aligned(len(scores), self.ratio)
            keep = np.sort(np.argsort(-scores, kind="stable")[:keep_count])
            if keep_count < len(scores):
                if self.compensate:
                    _compensate(group, keep, weights, means, proto, onnx)
                _apply(group, keep, weights, onnx)
                removed[group.name] = f"{len(scores)} -> {keep_count}"
        del proto.graph.value_info[:]  # shapes changed: infer them again (MAC counts and later passes read them)
        output = OnnxModel(onnx.shape_inference.infer_shapes(proto))
        params_before, params_after = _params(model.proto), _params(proto)
        details = {"channels": removed, "params_before": params_before, "params_after": params_after}
        return PassResult(output, modified=bool(removed), details=details)

    def _means(self, model: OnnxModel, groups: list[_Group], ctx: Context) -> dict[str, np.ndarray]:
        """Per-channel mean of each reading conv's input, on calibration data."""
        if not self.compensate and self.criterion == "l1":
            return {}
        if ctx.calibration is None:
            raise InputError(
                "prune-channels needs calibration data for its activation statistics: pass --calib data.npz "
                "(or prune-channels{criterion=l1,compensate=false})"
            )
        names = sorted({r.input[0] for g in groups for r in g.readers})
        moments = channel_moments(model, ctx.calibration, names, self.batch_size)
        return {name: m.mean for name, m in moments.items()}

    def _importance(
        self, groups: list[_Group], weights: dict[str, Any], means: dict[str, np.ndarray], onnx: Any
    ) -> dict[str, np.ndarray]:
        if self.criterion == "activation":  # mean |activation| where the channels are read
            return {g.name: np.sum([np.abs(means[r.input[0]]) for r in g.readers], axis=0) for g in groups}
        return {g.name: np.sum([_filter_l1(r, weights, onnx) for r in g.roots], axis=0) for g in groups}


def _groups(graph: Any, weights: dict[str, Any]) -> list[_Group]:
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
            group = _space(node.output[0], producer, consumers, boundary, weights, seen)
            if group is not None and group.readers:
                groups.append(group)
    return groups


def _space(
    start: str,
    producer: dict[str, Any],
    consumers: dict[str, list[Any]],
    boundary: set[str],
    weights: dict[str, Any],
    seen: set[str],
) -> _Group | None:
    """Walk the channel space of `start` both ways: through per-channel ops, depthwise convs and residual Adds.
    It is prunable when every tensor in it is made by a plain or depthwise conv or a per-channel op and read
    only by those or by plain convs (which lose input channels); anything else (Concat, Flatten, a constant
    operand, the graph's inputs or outputs) leaves the whole space as it is."""
    roots: list[Any] = []
    depthwise: list[Any] = []
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
        elif made_by.op_type == "Add" and _carries_channels(made_by, tensor, weights):
            stack.extend(made_by.input)
        else:
            prunable = False
        for node in consumers.get(tensor, []):
            reads_data = node.input[0] == tensor
            if _plain_conv(node, weights) and reads_data:
                readers.append(node)
            elif _carries_channels(node, tensor, weights):
                stack.append(node.output[0])
            else:
                prunable = False
    if not prunable or not roots:
        return None
    channels = {int(weights[c.input[1]].dims[0]) for c in roots + depthwise}
    return _Group(roots, depthwise, readers) if len(channels) == 1 else None


def _carries_channels(node: Any, tensor: str, weights: dict[str, Any]) -> bool:
    """The node's output has `tensor`'s channels, one to one: a depthwise conv, a per-channel op, a residual Add."""
    if node.op_type == "Add":
        return not any(i in weights for i in node.input)
    return node.input[0] == tensor and (_depthwise(node, weights) or node.op_type in CHANNELWISE)


def _plain_conv(node: Any, weights: dict[str, Any]) -> bool:
    return node.op_type == "Conv" and node.input[1] in weights and conv_group(node) == 1


def _depthwise(node: Any, weights: dict[str, Any]) -> bool:
    if node.op_type != "Conv" or node.input[1] not in weights:
        return False
    dims = weights[node.input[1]].dims
    return conv_group(node) == dims[0] and dims[1] == 1


def _apply(group: _Group, keep: np.ndarray, weights: dict[str, Any], onnx: Any) -> None:
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
    for conv in group.readers:
        take(conv.input[1], 1)


def _compensate(
    group: _Group, keep: np.ndarray, weights: dict[str, Any], means: dict[str, np.ndarray], proto: Any, onnx: Any
) -> None:
    """Fold the removed channels' mean contribution into each reading conv's bias."""
    for conv in group.readers:
        w = onnx.numpy_helper.to_array(weights[conv.input[1]]).astype(np.float64)
        dropped = np.setdiff1d(np.arange(w.shape[1]), keep)
        per_input = w[:, dropped].sum(axis=tuple(range(2, w.ndim)))  # (out, dropped)
        shift = per_input @ means[conv.input[0]][dropped]
        if len(conv.input) > 2 and conv.input[2]:
            bias = weights[conv.input[2]]
            values = onnx.numpy_helper.to_array(bias).astype(np.float64) + shift
            bias.CopyFrom(onnx.numpy_helper.from_array(values.astype(np.float32), bias.name))
        else:
            name = f"{conv.name or conv.output[0]}_compensated_bias"
            proto.graph.initializer.append(onnx.numpy_helper.from_array(shift.astype(np.float32), name))
            weights[name] = proto.graph.initializer[-1]
            while len(conv.input) < 3:
                conv.input.append("")
            conv.input[2] = name


def _filter_l1(conv: Any, weights: dict[str, Any], onnx: Any) -> np.ndarray:
    w = onnx.numpy_helper.to_array(weights[conv.input[1]])
    return np.abs(w.astype(np.float64)).reshape(w.shape[0], -1).sum(axis=1)


def _aligned(channels: int, ratio: float) -> int:
    keep = max(1, round(channels * (1 - ratio)))
    if channels >= 2 * ALIGN:
        keep = min(channels, math.ceil(keep / ALIGN) * ALIGN)
    return keep


def _params(proto: Any) -> int:
    return sum(math.prod(init.dims) for init in proto.graph.initializer)
