"""Post-training recovery for structured pruning: refit each layer that reads pruned channels by least squares.

Removing channels changes what the next layer sees. Mean compensation puts back only the removed channels'
average. Refitting asks more of the same calibration data: for each reading layer, in graph order, find the
weights over the channels it still has (and a bias) whose outputs, on the pruned network's actual inputs, come
closest to what the unpruned layer produced on the unpruned network's inputs. That is one linear least-squares
problem per layer (the normal equations of its input rows: compiler/layer_inputs.py), and because layers are
refitted in order, each one also corrects the error its pruned predecessors left, as ThiNet and He et al.'s
channel pruning do. It needs no labels and no training loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import stream
from .data import Dataset
from .kinds import OnnxModel
from .layer_inputs import rows, weight_from_rows, weight_rows
from .sparsegpt import DAMPING
from .weight_edits import bias, read, set_bias, write


def refit_readers(
    original: OnnxModel,
    proto: Any,
    weights: dict[str, Any],
    readers: list[Any],
    kept_outputs: dict[str, np.ndarray],
    data: Dataset,
    batch: int,
) -> None:
    """Refit `readers` (nodes of the pruned `proto`) in place, in graph order. `kept_outputs` names the output
    channels a reader kept when it was itself pruned as a maker of channels."""
    before = {n.name: n for n in original.proto.graph.node}
    before_weights = {init.name: init for init in original.proto.graph.initializer}
    order = {n.name: i for i, n in enumerate(proto.graph.node)}
    for reader in sorted(readers, key=lambda n: order[n.name]):
        source = before[reader.name]
        w_before = weight_rows(source, read(before_weights, source.input[1]))
        b_before = bias(source, before_weights, len(w_before))
        assert b_before is not None  # readers are convs and Gemms with per-output bias (prune_channels._reader)
        shape = tuple(weights[reader.input[1]].dims)
        outputs = kept_outputs.get(reader.name, np.arange(len(w_before)))
        inputs = weight_rows(reader, read(weights, reader.input[1])).shape[1] + 1  # kept features and the ones
        gram, cross = np.zeros((inputs, inputs)), np.zeros((inputs, len(outputs)))
        pruned_stream = stream(OnnxModel(proto), data, [reader.input[0]], batch)
        for was, now in zip(stream(original, data, [source.input[0]], batch), pruned_stream, strict=True):
            target = rows(source, was[source.input[0]].astype(np.float64), shape[2:]) @ w_before.T + b_before
            x = rows(reader, now[reader.input[0]].astype(np.float64), shape[2:])
            x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
            gram, cross = gram + x.T @ x, cross + x.T @ target[:, outputs]
        gram[np.diag_indices_from(gram)] += DAMPING * np.mean(np.diag(gram))
        solved = np.linalg.solve(gram, cross)  # (inputs + 1, outputs)
        write(weights, reader.input[1], weight_from_rows(reader, solved[:-1].T, shape))
        set_bias(proto, reader, weights, solved[-1])
