"""A float ONNX model's intermediate tensors over a dataset, streamed batch by batch.

MSE-optimal calibration needs every activation's histogram and bias correction every conv input's
per-channel mean; ORT's calibrators give neither. Both come from one ONNX Runtime session over a copy of
the model whose wanted tensors are made graph outputs. Batches are handed out one at a time so callers reduce
them as they come: a MobileNet's activations for a whole calibration set never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..runtimes import open_runner
from .data import Dataset
from .errors import require
from .kinds import OnnxModel

FLOAT = 1  # onnx.TensorProto.FLOAT


def float_tensors(model: OnnxModel) -> list[str]:
    """Every float activation: graph inputs and node outputs whose inferred type is float32."""
    onnx = require("onnx")
    inferred = onnx.shape_inference.infer_shapes(model.proto)
    graph = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in (*graph.input, *graph.value_info, *graph.output)}
    constants = {init.name for init in graph.initializer}
    names = [i.name for i in graph.input if i.name not in constants]
    names += [out for node in graph.node for out in node.output if out and out not in constants]
    return [n for n in dict.fromkeys(names) if types.get(n) == FLOAT]


def stream(model: OnnxModel, data: Dataset, names: list[str], batch: int) -> Iterator[dict[str, np.ndarray]]:
    """Yield {tensor name: values} for each batch of `data` (graph inputs come straight from the data)."""
    onnx = require("onnx")
    proto = onnx.ModelProto()
    proto.CopyFrom(model.proto)
    present = {o.name for o in proto.graph.output}
    inputs = {i.name for i in proto.graph.input}
    wanted = [n for n in names if n not in inputs]
    for name in wanted:
        if name not in present:
            proto.graph.output.append(onnx.helper.make_tensor_value_info(name, FLOAT, None))
    runner: Any = open_runner("onnxruntime", proto.SerializeToString())
    order = [o.name for o in runner.session.get_outputs()]
    step = batch if runner.fixed_batch is None else runner.fixed_batch
    for start in range(0, len(data), step):
        feeds = {name: array[start : start + step] for name, array in data.inputs.items()}
        values = dict(zip(order, runner.run(feeds), strict=True))
        yield {n: feeds[n] if n in inputs else values[n] for n in names}


@dataclass(frozen=True)
class ChannelMoments:
    """Per-channel mean and mean square of one tensor over every sample and position."""

    mean: np.ndarray
    mean_square: np.ndarray


def channel_moments(
    model: OnnxModel, data: Dataset, names: list[str], batch: int, channel_axis: dict[str, int] | None = None
) -> dict[str, ChannelMoments]:
    """First and second moments per channel (axis 1 unless `channel_axis` says otherwise, e.g. -1 for the
    features of a MatMul input), reduced batch by batch: what bias correction, activation-aware pruning and
    channel pruning's compensation read."""
    sums: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    for values in stream(model, data, names, batch):
        for name, array in values.items():
            moved = np.moveaxis(array.astype(np.float64), (channel_axis or {}).get(name, 1), -1)
            flat = moved.reshape(-1, moved.shape[-1])
            total, squares, count = sums.get(name, (0.0, 0.0, 0))
            sums[name] = (total + flat.sum(axis=0), squares + (flat**2).sum(axis=0), count + len(flat))
    return {name: ChannelMoments(total / count, squares / count) for name, (total, squares, count) in sums.items()}
