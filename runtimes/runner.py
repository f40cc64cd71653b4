"""The runner interface and the batched loop every runtime shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from .layout import IoLayout, artifact_inputs


class Runner(Protocol):
    """One loaded artifact in one runtime."""

    runtime: str
    version: str
    threads: int

    @property
    def input_names(self) -> list[str]: ...

    @property
    def fixed_batch(self) -> int | None:
        """The batch size the artifact was built for, or None when its batch dimension is dynamic."""

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...


def run_streaming(
    runner: Runner,
    inputs: dict[str, Any],
    states: Sequence[tuple[int, str]],
    on_step: Callable[[int], None] | None = None,
    layout: IoLayout | None = None,
) -> list[np.ndarray]:
    """Run `inputs` (baseline layout, one row per step, in order) one step at a time, feeding each state output
    back into its input as the device's loop does: `states` pairs an output's index with the input it feeds.

    Each state input's first row is the initial state; its other rows are never read, so an artifact runs on
    its own states (free-running), and an error that accumulates over steps shows, where batch evaluation
    with recorded states would reset it every step. Every output comes back in the baseline's layout."""
    carried = {name: np.asarray(inputs[name][:1]) for _, name in states}
    total = len(next(iter(inputs.values())))
    steps: list[list[np.ndarray]] = []
    for step in range(total):
        feed = {
            name: carried[name] if name in carried else np.asarray(array[step : step + 1])
            for name, array in inputs.items()
        }
        outputs = runner.run(artifact_inputs(feed, layout))
        if layout is not None:
            outputs = [layout.output_as_baseline(index, output) for index, output in enumerate(outputs)]
        for index, name in states:
            carried[name] = np.asarray(outputs[index], dtype=carried[name].dtype).reshape(carried[name].shape)
        steps.append(outputs)
        if on_step:
            on_step(1)
    return [np.concatenate([step[index] for step in steps]) for index in range(len(steps[0]))]


def _judged_output(states: Sequence[tuple[int, str]]) -> int:
    """The output the gate judges: the first that is not a recurrent state (the first output without states)."""
    fed_back = {index for index, _ in states}
    return next(index for index in range(len(fed_back) + 1) if index not in fed_back)


def run_judged(
    runner: Runner,
    inputs: dict[str, Any],
    states: Sequence[tuple[int, str]] = (),
    layout: IoLayout | None = None,
    batch_size: int = 64,
    on_rows: Callable[[int], None] | None = None,
) -> np.ndarray:
    """The output the gate judges, over every row of `inputs`, in the baseline's layout: the first output of a
    batched run, or the first non-state output of a sequence streamed on its own states. Validation, the
    emulated run, the bundle's host outputs and the device harness all run an artifact through this one call."""
    if states:
        return run_streaming(runner, inputs, states, on_rows, layout)[_judged_output(states)]
    first = run_batched(runner, inputs, batch_size, on_rows, layout)[0]
    return first if layout is None else layout.first_output_as_baseline(first)


def run_batched(
    runner: Runner,
    inputs: dict[str, Any],
    batch_size: int = 64,
    on_batch: Callable[[int], None] | None = None,
    layout: IoLayout | None = None,
) -> list[np.ndarray]:
    """Run every sample of `inputs` (baseline layout; arrays or anything sliceable by rows) through `runner`;
    returns each output concatenated over samples.

    Inputs are sliced and brought to the artifact's `layout` a batch at a time, so a data set on disk is
    streamed, never copied whole. A fixed-batch artifact gets exactly its batch size; the last partial batch
    is padded by repeating its final sample and the padding is dropped from the outputs, so every sample is
    run exactly once.
    """
    total = len(next(iter(inputs.values())))
    step = runner.fixed_batch or batch_size
    chunks: list[list[np.ndarray]] = []
    for start in range(0, total, step):
        stop = min(start + step, total)
        feed = artifact_inputs({name: array[start:stop] for name, array in inputs.items()}, layout)
        pad = step - (stop - start) if runner.fixed_batch else 0
        if pad:
            feed = {name: np.concatenate([a, np.repeat(a[-1:], pad, axis=0)]) for name, a in feed.items()}
        outputs = runner.run(feed)
        chunks.append([o[: stop - start] for o in outputs])
        if on_batch:
            on_batch(stop - start)
    return [np.concatenate([chunk[i] for chunk in chunks]) for i in range(len(chunks[0]))]
