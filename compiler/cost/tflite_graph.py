"""The cost view of a TFLite flatbuffer, read back through the interpreter that will run it."""

from __future__ import annotations

import math

from ..macs import tflite_op_macs
from ..tflite_inspect import OpInfo, TfliteSummary
from .graph import CostGraph, Layer, Window, compute_dtype

_KINDS = {
    "CONV_2D": "conv",
    "CONV_3D": "conv",
    "TRANSPOSE_CONV": "conv",
    "DEPTHWISE_CONV_2D": "depthwise",
    "FULLY_CONNECTED": "matmul",
    "BATCH_MATMUL": "matmul",
}


def tflite_cost_graph(summary: TfliteSummary, file_bytes: int) -> CostGraph:
    activations = summary.activations
    keys = _unique_names(summary)
    constants: set[int] = set()
    layers = []
    for op in summary.ops:
        reads = tuple(i for i in op.inputs if i in activations)
        weights = [i for i in op.inputs if i not in activations]
        constants.update(weights)
        first = summary.tensors[reads[0] if reads else op.outputs[0]]
        layers.append(
            Layer(
                name=keys[op.outputs[0]],
                op=op.name,
                kind=_KINDS.get(op.name, "other"),
                dtype=compute_dtype(first.dtype),
                macs=tflite_op_macs(op, summary) or 0,
                weight_bytes=sum(summary.tensors[i].nbytes for i in set(weights)),
                reads=tuple(keys[i] for i in reads),
                writes=tuple(keys[i] for i in op.outputs),
                window=_window(op, summary),
            )
        )
    return CostGraph(
        format="tflite",
        layers=tuple(layers),
        sizes={keys[i]: summary.tensors[i].nbytes for i in activations},
        inputs=tuple(keys[t.index] for t in summary.inputs),
        outputs=tuple(keys[t.index] for t in summary.outputs),
        weight_bytes=sum(summary.tensors[i].nbytes for i in constants),
        file_bytes=file_bytes,
    )


def _unique_names(summary: TfliteSummary) -> dict[int, str]:
    """Tensor names as keys, without the names of the ops the converter fused in ("conv;relu;add" -> "conv");
    converters may repeat a name, so a repeat gets its index appended."""
    seen: set[str] = set()
    keys = {}
    for index, tensor in sorted(summary.tensors.items()):
        name = tensor.name.split(";")[0]
        key = name if name and name not in seen else f"{name}#{index}"
        seen.add(key)
        keys[index] = key
    return keys


def _window(op: OpInfo, summary: TfliteSummary) -> Window | None:
    """NHWC activations; OHWI weights for CONV_2D, 1HWC for DEPTHWISE_CONV_2D."""
    if op.name not in ("CONV_2D", "DEPTHWISE_CONV_2D") or len(op.inputs) < 2:
        return None
    source, weight = summary.tensors[op.inputs[0]], summary.tensors[op.inputs[1]]
    output = summary.tensors[op.outputs[0]]
    if len(source.shape) != 4 or len(weight.shape) != 4:
        return None
    return Window(
        kernel=weight.shape[1] * weight.shape[2],
        channels=source.shape[3],
        out_pixels=math.prod(output.shape[1:3]),
        resampled=source.shape[1:3] != output.shape[1:3],
        itemsize=source.nbytes // max(math.prod(source.shape), 1),
    )
