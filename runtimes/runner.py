"""The runner interface and the batched loop every runtime shares."""

from __future__ import annotations

from collections.abc import Callable
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
