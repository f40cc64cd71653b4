"""Structured pruning: physically remove conv output channels, so the artifact is smaller *and* faster.

Zeros do not make CPU kernels faster; fewer channels do. A channel can go only if everything that reads it can
lose it too, so the pass finds *channel groups* in the ONNX graph: a root Conv whose output reaches, through
per-channel ops only (Relu, Clip, pooling), nothing but Convs that read it as an input channel, possibly
through depthwise Convs whose channels map one to one (MobileNet's expand -> depthwise -> project). Outputs
that meet a residual Add, a Concat, a Flatten or the graph output are left whole: removing channels there
would need the other branch to agree. Within each group the lowest-importance channels go (L1 norm of the
root filter, which after cleanup's BatchNorm folding also carries the BN scale; or the mean |activation| on
calibration data), and the kept count is rounded up to a multiple of 8, the vector width int8 kernels use.

Recovery without training (`compensate`, on by default): a removed channel's mean output still reached the next
convs; its mean (measured on calibration data where those convs read it) times their weights is added to their
bias, so the next layer's output keeps its mean.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..activations import stream
from ..errors import InputError, require
from ..kinds import Model, OnnxModel
from .base import Context, Pass, PassResult
from .equalize import conv_group

CHANNELWISE = ("Relu", "Clip", "LeakyRelu", "MaxPool", "AveragePool", "Identity")
CRITERIA = ("l1", "activation")
ALIGN = 8


@dataclass
class _Group:
    root: Any
    depthwise: list[Any]
    readers: list[Any]  # convs that read the channels as inputs
    probe: str  # the tensor whose activations measure the channels' importance


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
        proto = onnx.ModelProto()
        proto.CopyFrom(model.proto)
        weights = {init.name: init for init in proto.graph.initializer}
        groups = [g for g in _groups(proto.graph, weights) if not _excluded(g.root.name, self.exclude)]
        if not groups:
            raise InputError(
                "prune-channels found no conv whose output channels only feed other convs (every conv output "
                "meets a residual Add, Concat, Flatten or the graph output); nothing can be removed structurally"
            )
        means = self._means(model, groups, ctx)
        importance = self._importance(groups, weights, means, onnx)
        removed = {}
        for group in groups:
            scores = importance[group.root.name]
            keep_count = _aligned(len(scores), self.ratio)
            keep = np.sort(np.argsort(-scores, kind="stable")[:keep_count])
            if keep_count < len(scores):
                if self.compensate:
                    _compensate(group, keep, weights, means, proto, onnx)
                _apply(group, keep, weights, onnx)
                removed[group.root.name] = f"{len(scores)} -> {keep_count}"
        del proto.graph.value_info[:]  # shapes changed: infer them again (MAC counts and later passes read them)
        output = OnnxModel(onnx.shape_inference.infer_shapes(proto))
        params_before, params_after = _params(model.proto), _params(proto)
        details = {"channels": removed, "params_before": params_before, "params_after": params_after}
        return PassResult(output, modified=bool(removed), details=details)

    def _means(self, model: OnnxModel, groups: list[_Group], ctx: Context) -> dict[str, np.ndarray]:
        """Per-channel mean of each group's probe and of each reading conv's input, on calibration data."""
        if not self.compensate and self.criterion == "l1":
            return {}
        if ctx.calibration is None:
            raise InputError(
                "prune-channels needs calibration data for its activation statistics: pass --calib data.npz "
                "(or prune-channels{criterion=l1,compensate=false})"
            )
        names = sorted({g.probe for g in groups} | {r.input[0] for g in groups for r in g.readers})
        sums: dict[str, np.ndarray] = {}
        count = 0
        for values in stream(model, ctx.calibration, names, self.batch_size):
            for name, array in values.items():
                per_sample = array.astype(np.float64).mean(axis=tuple(range(2, array.ndim)))
                sums[name] = sums.get(name, 0) + per_sample.sum(axis=0)
            count += len(next(iter(values.values())))
        return {name: total / max(count, 1) for name, total in sums.items()}

    def _importance(
        self, groups: list[_Group], weights: dict[str, Any], means: dict[str, np.ndarray], onnx: Any
    ) -> dict[str, np.ndarray]:
        if self.criterion == "activation":  # the probe follows a ReLU-like op, so its mean is its mean |x|
            return {g.root.name: np.abs(means[g.probe]) for g in groups}
        return {
            g.root.name: np.abs(onnx.numpy_helper.to_array(weights[g.root.input[1]]))
            .reshape(int(weights[g.root.input[1]].dims[0]), -1)
            .sum(axis=1)
            for g in groups
        }


def _groups(graph: Any, weights: dict[str, Any]) -> list[_Group]:
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    groups = []
    for node in graph.node:
        if node.op_type != "Conv" or conv_group(node) != 1 or node.input[1] not in weights:
            continue
        channels = int(weights[node.input[1]].dims[0])
        found = _follow(node.output[0], channels, consumers, outputs, weights)
        if found is not None and found[1]:
            depthwise, readers, probe = found
            groups.append(_Group(node, depthwise, readers, probe or node.output[0]))
    return groups


def _follow(
    tensor: str, channels: int, consumers: dict[str, list[Any]], outputs: set[str], weights: dict[str, Any]
) -> tuple[list[Any], list[Any], str] | None:
    """(depthwise convs, reading convs, last per-channel tensor) reached from `tensor`; None if anything else
    reads the channels."""
    if tensor in outputs or not consumers.get(tensor):
        return None
    depthwise: list[Any] = []
    readers: list[Any] = []
    probe = tensor
    for node in consumers[tensor]:
        if node.op_type in CHANNELWISE and node.input[0] == tensor:
            found = _follow(node.output[0], channels, consumers, outputs, weights)
        elif node.op_type == "Conv" and node.input[0] == tensor and node.input[1] in weights:
            if conv_group(node) == 1:
                readers.append(node)
                continue
            if conv_group(node) != channels or int(weights[node.input[1]].dims[0]) != channels:
                return None
            found = _follow(node.output[0], channels, consumers, outputs, weights)
            if found is not None:
                found = ([node, *found[0]], found[1], tensor)
        else:
            return None
        if found is None:
            return None
        depthwise += found[0]
        readers += found[1]
        probe = found[2] if node.op_type in CHANNELWISE else probe
    return depthwise, readers, probe


def _apply(group: _Group, keep: np.ndarray, weights: dict[str, Any], onnx: Any) -> None:
    def take(name: str, axis: int) -> None:
        tensor = weights[name]
        values = np.take(onnx.numpy_helper.to_array(tensor), keep, axis=axis)
        tensor.CopyFrom(onnx.numpy_helper.from_array(values, name))

    for conv in (group.root, *group.depthwise):
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


def _excluded(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def _aligned(channels: int, ratio: float) -> int:
    keep = max(1, round(channels * (1 - ratio)))
    if channels >= 2 * ALIGN:
        keep = min(channels, math.ceil(keep / ALIGN) * ALIGN)
    return keep


def _params(proto: Any) -> int:
    return sum(math.prod(init.dims) for init in proto.graph.initializer)
