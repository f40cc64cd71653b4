"""The cost view of an ONNX model, as ONNX Runtime executes it.

A QDQ model is not run node by node: ORT fuses DequantizeLinear -> op -> QuantizeLinear into one int8 kernel
(QLinearConv, QGemm, ...), so the float tensors between them never exist. The view does the same: a
DequantizeLinear of an activation is the int8 tensor it reads, a QuantizeLinear right after a layer is that
layer's int8 output, and the DequantizeLinear of a weight is a constant. Without this, a QDQ model would be
charged four times its real arena and twice its real op count.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from ..kinds import OnnxModel
from ..macs import onnx_node_macs
from .graph import CostGraph, Layer, Window, compute_dtype


def onnx_cost_graph(model: OnnxModel) -> CostGraph:
    import onnx

    proto = onnx.shape_inference.infer_shapes(model.proto)
    graph = proto.graph
    specs = _tensor_specs(graph)
    constants = {init.name: _nbytes(init.data_type, tuple(init.dims)) for init in graph.initializer}
    outputs = tuple(o.name for o in graph.output)
    nodes = list(graph.node)
    consumers: dict[str, list[int]] = defaultdict(list)
    for index, node in enumerate(nodes):
        for name in node.input:
            consumers[name].append(index)
    stored_as: dict[str, str] = {}  # a fused tensor -> the tensor that really holds it
    fused_quantize: set[int] = set()
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    shapes.update({name: shape for name, (_, shape) in specs.items()})
    layers = []
    for index, node in enumerate(nodes):
        ins = [name for name in node.input if name]
        if node.op_type == "Constant" or (ins and all(name in constants for name in ins)):
            for name in node.output:
                constants[name] = sum(constants[i] for i in ins) or _nbytes(*specs.get(name, (1, ())))
            continue
        if index in fused_quantize:
            continue
        if node.op_type == "DequantizeLinear" and node.output[0] not in outputs:
            stored_as[node.output[0]] = stored_as.get(ins[0], ins[0])
            continue
        writes = []
        for name in node.output:
            after = consumers[name]
            if node.op_type != "QuantizeLinear" and after and all(nodes[i].op_type == "QuantizeLinear" for i in after):
                fused_quantize.update(after)
                writes += [nodes[i].output[0] for i in after]
            else:
                writes.append(name)
        reads = tuple(dict.fromkeys(stored_as.get(n, n) for n in ins if n not in constants))
        dtype = _dtype(specs.get(reads[0] if reads else node.output[0], (1, ()))[0])
        kind = _kind(node, shapes)
        layers.append(
            Layer(
                name=node.name or f"{node.op_type}_{index}",
                op=node.op_type,
                kind=kind,
                dtype=compute_dtype(dtype),
                macs=onnx_node_macs(node, shapes) or 0,
                weight_bytes=sum(constants[n] for n in set(ins) if n in constants),
                reads=reads,
                writes=tuple(writes),
                window=_window(node, shapes, np.dtype(dtype).itemsize) if kind in ("conv", "depthwise") else None,
            )
        )
    used = {t for layer in layers for t in (*layer.reads, *layer.writes)} | {i.name for i in graph.input}
    sizes = {name: _nbytes(*specs.get(name, (1, ()))) for name in used if name not in constants}
    return CostGraph(
        format="onnx",
        layers=tuple(layers),
        sizes=sizes,
        inputs=tuple(i.name for i in graph.input if i.name not in constants),
        outputs=outputs,
        weight_bytes=sum(_nbytes(init.data_type, tuple(init.dims)) for init in graph.initializer),
        file_bytes=len(model.to_bytes()),
    )


def _tensor_specs(graph: Any) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Element type and batch-1 shape of every typed value (symbolic dims count as 1)."""
    specs = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        tensor = value.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in tensor.shape.dim)
        specs[value.name] = (tensor.elem_type, dims)
    return specs


def _nbytes(elem_type: int, dims: tuple[int, ...]) -> int:
    import onnx

    return int(np.prod(dims, dtype=np.int64)) * np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).itemsize


def _dtype(elem_type: int) -> str:
    import onnx

    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).name


def _kind(node: Any, shapes: dict[str, tuple[int, ...]]) -> str:
    if node.op_type in ("Gemm", "MatMul"):
        return "matmul"
    if node.op_type not in ("Conv", "ConvTranspose"):
        return "other"
    groups = next((a.i for a in node.attribute if a.name == "group"), 1)
    channels = shapes.get(node.input[0], (1, 0))[1] if len(shapes.get(node.input[0], ())) > 1 else 0
    return "depthwise" if groups > 1 and groups == channels else "conv"


def _window(node: Any, shapes: dict[str, tuple[int, ...]], itemsize: int) -> Window | None:
    """NCHW activations, OIHW weights."""
    source, weight, output = (shapes.get(name) for name in (node.input[0], node.input[1], node.output[0]))
    if not source or not weight or not output or len(source) < 3:
        return None
    return Window(
        kernel=math.prod(weight[2:]),
        channels=source[1],
        out_pixels=math.prod(output[2:]),
        resampled=source[2:] != output[2:],
        itemsize=itemsize,
    )
