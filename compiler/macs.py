"""Multiply-accumulates per compute op, at batch 1: of an ONNX model (from its inferred shapes) and of a
TFLite model (from its tensor shapes).

The fallback search reports how much compute it left in float; MACs, not node counts, say what that costs.
"""

from __future__ import annotations

import math
from typing import Any

from .kinds import Model, OnnxModel
from .tflite_inspect import OpInfo, TfliteSummary


def total_macs(model: Model) -> int | None:
    """MACs of one batch-1 inference of an ONNX or TFLite model; None for kinds no device runs."""
    from .kinds_tf import TfliteModel

    if isinstance(model, OnnxModel):
        import onnx

        # a QDQ model's weights reach each Conv through a DequantizeLinear whose output shape is not stored
        return sum(node_macs(OnnxModel(onnx.shape_inference.infer_shapes(model.proto))).values())
    if isinstance(model, TfliteModel):
        return sum(tflite_macs(model.summary).values())
    return None


def node_macs(model: OnnxModel) -> dict[str, int]:
    """MACs of every Conv, ConvTranspose, Gemm and MatMul node (by node name); shapes must be inferred."""
    shapes = onnx_shapes(model)
    found = ((node.name, onnx_node_macs(node, shapes)) for node in model.proto.graph.node)
    return {name: macs for name, macs in found if macs is not None}


def onnx_node_macs(node: Any, shapes: dict[str, tuple[int, ...]]) -> int | None:
    """MACs of one node at batch 1, or None when it is no convolution or matrix product (or shapes are unknown)."""
    weight = shapes.get(node.input[1]) if len(node.input) > 1 else None
    output = shapes.get(node.output[0])
    if weight is None or output is None:
        return None
    out = math.prod(output[1:])  # batch 1
    if node.op_type == "Conv":
        return out * math.prod(weight[1:])  # (C_in / groups) * kernel per output element
    if node.op_type == "ConvTranspose":
        return math.prod(shapes.get(node.input[0], (1,))[1:]) * math.prod(weight[1:])
    if node.op_type in ("Gemm", "MatMul"):
        transposed = node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute)
        return out * (weight[-1] if transposed else weight[-2])
    return None


def onnx_shapes(model: OnnxModel) -> dict[str, tuple[int, ...]]:
    graph = model.proto.graph
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    for value in (*graph.input, *graph.value_info, *graph.output):
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in dims)
    return shapes


def tflite_macs(summary: TfliteSummary) -> dict[str, int]:
    """MACs of every convolution, fully connected and batch matmul op, keyed by its output tensor's name
    (the name TFLite's selective quantization denylists it by)."""
    found = ((summary.tensors[op.outputs[0]].name, tflite_op_macs(op, summary)) for op in summary.ops)
    return {name: macs for name, macs in found if macs is not None}


def tflite_op_macs(op: OpInfo, summary: TfliteSummary) -> int | None:
    """MACs of one op at batch 1, or None for ops without multiply-accumulates. Weight layouts are TFLite's:
    OHWI for CONV_2D, 1HWC for DEPTHWISE_CONV_2D, (out, in) for FULLY_CONNECTED."""
    shapes = [summary.tensors[i].shape for i in op.inputs]
    out = math.prod(summary.tensors[op.outputs[0]].shape)  # the interpreter reports a dynamic batch as 1
    if op.name in ("CONV_2D", "CONV_3D") and len(shapes) > 1:
        return out * math.prod(shapes[1][1:])
    if op.name == "DEPTHWISE_CONV_2D" and len(shapes) > 1:
        return out * math.prod(shapes[1][1:-1])
    if op.name in ("FULLY_CONNECTED", "BATCH_MATMUL") and len(shapes) > 1:
        return out * shapes[0][-1]
    if op.name == "TRANSPOSE_CONV" and len(shapes) > 2:
        return math.prod(shapes[2]) * math.prod(shapes[1][:-1])
    return None
