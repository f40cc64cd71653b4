"""An ONNX graph run by torch, so its weights can be trained where they live: in the ONNX model.

Fine-tuning after pruning must train the *pruned* graph, and that graph exists only as ONNX (whatever the
source was: torch, Keras or ONNX). Converting it back to a framework model would need one converter per
source and lose the initializer names the write-back needs, so instead each node runs as the torch function
with ONNX's semantics, over the ops a cleaned-up vision or MLP model holds. The weights of Conv, Gemm and
MatMul become parameters keyed by initializer name; every other constant (shapes, BatchNorm statistics, Clip
bounds) stays fixed. An op outside the table is refused up front with its name, not half-run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError

Tensor = torch.Tensor
WEIGHTED = ("Conv", "Gemm", "MatMul")


def _pads(attrs: dict[str, Any], spatial: int) -> tuple[list[int], list[int]]:
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise InputError("fine-tuning: auto_pad is not supported; export with explicit pads")
    pads = list(attrs.get("pads", [0] * 2 * spatial))
    return pads[:spatial], pads[spatial:]


def _explicit_pad(x: Tensor, begins: list[int], ends: list[int], value: float = 0.0) -> Tensor:
    """F.pad wants (last dim begin, last dim end, ...), ONNX gives all begins then all ends."""
    order = [p for b, e in zip(reversed(begins), reversed(ends), strict=True) for p in (b, e)]
    return F.pad(x, order, value=value)


def _conv(inputs: list[Any], attrs: dict[str, Any]) -> Tensor:
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    spatial = w.dim() - 2
    begins, ends = _pads(attrs, spatial)
    if begins != ends:
        x, begins = _explicit_pad(x, begins, ends), [0] * spatial
    conv = (F.conv1d, F.conv2d, F.conv3d)[spatial - 1]
    return conv(
        x,
        w,
        b,
        stride=list(attrs.get("strides", [1] * spatial)),
        padding=begins,
        dilation=list(attrs.get("dilations", [1] * spatial)),
        groups=attrs.get("group", 1),
    )


def _pool(kind: str) -> Callable[[list[Any], dict[str, Any]], Tensor]:
    def run(inputs: list[Any], attrs: dict[str, Any]) -> Tensor:
        x, kernel = inputs[0], list(attrs["kernel_shape"])
        spatial = len(kernel)
        begins, ends = _pads(attrs, spatial)
        if begins != ends:
            if kind == "avg":
                raise InputError("fine-tuning: AveragePool with asymmetric pads is not supported")
            x, begins = _explicit_pad(x, begins, ends, float("-inf")), [0] * spatial
        strides = list(attrs.get("strides", [1] * spatial))
        ceil = bool(attrs.get("ceil_mode", 0))
        if kind == "max":
            max_pool: Any = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[spatial - 1]
            dilation = list(attrs.get("dilations", [1] * spatial))
            return max_pool(x, kernel, strides, begins, dilation, ceil_mode=ceil)
        avg_pool: Any = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[spatial - 1]
        return avg_pool(x, kernel, strides, begins, ceil, bool(attrs.get("count_include_pad", 0)))

    return run


def _gemm(inputs: list[Any], attrs: dict[str, Any]) -> Tensor:
    a = inputs[0].t() if attrs.get("transA", 0) else inputs[0]
    b = inputs[1].t() if attrs.get("transB", 0) else inputs[1]
    out = attrs.get("alpha", 1.0) * (a @ b)
    return out + attrs.get("beta", 1.0) * inputs[2] if len(inputs) > 2 and inputs[2] is not None else out


def _reshape(inputs: list[Any], attrs: dict[str, Any]) -> Tensor:
    x, shape = inputs[0], [int(s) for s in inputs[1].tolist()]
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _axes(inputs: list[Any], attrs: dict[str, Any]) -> list[int] | None:
    """Axes arrive as an attribute before opset 13 (18 for reductions) and as a second input after."""
    if len(inputs) > 1 and inputs[1] is not None:
        return [int(a) for a in inputs[1].tolist()]
    return list(attrs["axes"]) if "axes" in attrs else None


def _squeeze(inputs: list[Any], attrs: dict[str, Any]) -> Tensor:
    axes = _axes(inputs, attrs)
    return inputs[0].squeeze() if axes is None else inputs[0].squeeze(axes)


def _unsqueeze(inputs: list[Any], attrs: dict[str, Any]) -> Tensor:
    x, axes = inputs[0], _axes(inputs, attrs) or []
    for axis in sorted(a % (x.dim() + len(axes)) for a in axes):
        x = x.unsqueeze(axis)
    return x


def _reduce_mean(inputs: list[Any], attrs: dict[str, Any]) -> Tensor:
    axes = _axes(inputs, attrs)
    keep = bool(attrs.get("keepdims", 1))
    return inputs[0].mean(dim=axes, keepdim=keep) if axes else inputs[0].mean()


def _clip(inputs: list[Any], attrs: dict[str, Any]) -> Tensor:
    low = inputs[1] if len(inputs) > 1 and inputs[1] is not None else attrs.get("min")
    high = inputs[2] if len(inputs) > 2 and inputs[2] is not None else attrs.get("max")
    return torch.clamp(inputs[0], None if low is None else float(low), None if high is None else float(high))


def _batch_norm(inputs: list[Any], attrs: dict[str, Any]) -> Tensor:
    x, scale, shift, mean, var = inputs[:5]
    return F.batch_norm(x, mean, var, scale, shift, training=False, eps=attrs.get("epsilon", 1e-5))


def _flatten(inputs: list[Any], attrs: dict[str, Any]) -> Tensor:
    x, axis = inputs[0], attrs.get("axis", 1) % max(inputs[0].dim(), 1)
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


OPS: dict[str, Callable[[list[Any], dict[str, Any]], Tensor]] = {
    "Conv": _conv,
    "Gemm": _gemm,
    "MatMul": lambda i, a: torch.matmul(i[0], i[1]),
    "Add": lambda i, a: i[0] + i[1],
    "Sub": lambda i, a: i[0] - i[1],
    "Mul": lambda i, a: i[0] * i[1],
    "Div": lambda i, a: i[0] / i[1],
    "Relu": lambda i, a: F.relu(i[0]),
    "LeakyRelu": lambda i, a: F.leaky_relu(i[0], a.get("alpha", 0.01)),
    "Clip": _clip,
    "Sigmoid": lambda i, a: torch.sigmoid(i[0]),
    "Tanh": lambda i, a: torch.tanh(i[0]),
    "HardSigmoid": lambda i, a: torch.clamp(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1),
    "HardSwish": lambda i, a: F.hardswish(i[0]),
    "Erf": lambda i, a: torch.erf(i[0]),
    "Sqrt": lambda i, a: torch.sqrt(i[0]),
    "Softmax": lambda i, a: torch.softmax(i[0], a.get("axis", -1)),
    "MaxPool": _pool("max"),
    "AveragePool": _pool("avg"),
    "GlobalAveragePool": lambda i, a: i[0].mean(dim=tuple(range(2, i[0].dim())), keepdim=True),
    "GlobalMaxPool": lambda i, a: i[0].amax(dim=tuple(range(2, i[0].dim())), keepdim=True),
    "BatchNormalization": _batch_norm,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": lambda i, a: i[0].permute(*(a.get("perm") or reversed(range(i[0].dim())))),
    "Concat": lambda i, a: torch.cat(list(i), a["axis"]),
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "ReduceMean": _reduce_mean,
    "Identity": lambda i, a: i[0],
    "Dropout": lambda i, a: i[0],
}


class OnnxModule(torch.nn.Module):
    """The graph of an ONNX model as a torch module whose Conv, Gemm and MatMul weights are trainable."""

    def __init__(self, proto: Any):
        super().__init__()
        from onnx import helper, numpy_helper

        graph = proto.graph
        unsupported = sorted({n.op_type for n in graph.node} - set(OPS) - {"Constant"})
        if unsupported:
            raise InputError(
                f"fine-tuning cannot run ONNX op(s) {', '.join(unsupported)} in torch; drop --recover-epochs "
                "(recovery=refit needs no training) or simplify the model"
            )
        self.trainable = sorted(
            {n.input[i] for n in graph.node if n.op_type in WEIGHTED for i in (1, 2) if i < len(n.input)}
            & {i.name for i in graph.initializer if i.data_type == 1}  # FLOAT
        )
        tensors = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
        self.params = torch.nn.ParameterList(torch.nn.Parameter(tensors.pop(n)) for n in self.trainable)
        self.constants: dict[str, Tensor] = tensors
        self.nodes = []
        for node in graph.node:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Constant":
                self.constants[node.output[0]] = torch.from_numpy(numpy_helper.to_array(attrs["value"]).copy())
                continue
            self.nodes.append((node.op_type, list(node.input), list(node.output), attrs))
        initializers = {i.name for i in graph.initializer}
        self.input_names = [v.name for v in graph.input if v.name not in initializers]
        self.output_names = [v.name for v in graph.output]

    def weight(self, name: str) -> Tensor:
        return self.params[self.trainable.index(name)]

    def forward(self, *inputs: Tensor, until: str | None = None) -> list[Tensor]:
        """The graph's outputs, or with `until` the tensor of that name (for a loss on logits before a Softmax)."""
        values: dict[str, Any] = {**self.constants, **dict(zip(self.input_names, inputs, strict=True))}
        values.update(zip(self.trainable, self.params, strict=True))
        for op_type, names, outputs, attrs in self.nodes:
            result = OPS[op_type]([values[n] if n else None for n in names], attrs)
            values[outputs[0]] = result
            if outputs[0] == until:
                return [result]
        return [values[name] for name in self.output_names]
