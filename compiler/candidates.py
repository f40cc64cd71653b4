"""Search candidates, built and run wherever an executor puts them.

A candidate is a pass list applied to a start model and run on the evaluation set: the unit both budgeted
searches (the quantization fallback, the prune search) spend their time on. `evaluate` hands a batch to the
executor; every candidate, in this process or on another machine, goes through the same `build_and_run`
with the same inputs (models travel in their cache form, data as arrays), so which executor ran a
candidate never changes its numbers. A candidate that fails, or whose worker dies, is an `Outcome` with
its error: the search reports it and goes on with the others.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .cache import PassCache
from .data import Dataset, Rows
from .engine import PassRecord, run_passes
from .errors import failure_line
from .executors import Executor, Lost
from .kind_lookup import kind_class
from .kinds import Model
from .passes.base import Context, Pass
from .validation.evaluate import RunResult, run_model

Packed = tuple[str, bytes]  # a model's kind and cache form: what a cache hit would give back


@dataclass(frozen=True)
class Workbench:
    """What every candidate of a batch shares; shipped to each worker once."""

    start: Packed
    ctx: Context
    evaluation: Dataset
    runtime: str
    threads: int
    label: str
    cache: str | None = None  # where workers reach the pass cache (set when the bench is shipped)


@dataclass
class Outcome:
    """A candidate's artifact (in its cache form, as it travels back from a worker), its pass records and
    its outputs, or why there are none."""

    packed: Packed | None = None
    records: list[PassRecord] = field(default_factory=list)
    run: RunResult | None = None
    error: str = ""
    seconds: float = 0.0  # building and running it, wherever it ran

    @functools.cached_property
    def model(self) -> Model:
        assert self.packed is not None, self.error
        return unpack(self.packed)


def evaluate(
    executor: Executor, bench: Workbench, candidates: Sequence[tuple[Pass, ...]], cache: PassCache | None
) -> list[Outcome]:
    """Build and run `candidates`: here when there is one (or one worker), else through the executor."""
    if len(candidates) == 1 or executor.width == 1:
        return [build_and_run(bench, passes, cache) for passes in candidates]
    location = cache.location if cache else None
    portable = replace(
        bench, ctx=_portable_context(bench.ctx), evaluation=portable_dataset(bench.evaluation), cache=location
    )
    results = executor.map(build_and_run, portable, list(candidates))
    return [Outcome(error=r.reason) if isinstance(r, Lost) else r for r in results]


def build_and_run(bench: Workbench, passes: tuple[Pass, ...], cache: PassCache | None = None) -> Outcome:
    """Run `passes` from the bench's start model, then the artifact on the evaluation data. Never raises:
    an error is this candidate's result."""
    if cache is None and bench.cache is not None:
        cache = _cache_at(bench.cache)
    ctx = bench.ctx if bench.ctx.scratch and bench.ctx.scratch.is_dir() else replace(bench.ctx, scratch=_scratch(cache))
    started = time.perf_counter()
    try:
        model, records = run_passes(unpack(bench.start), list(passes), ctx, cache)
        layout = getattr(model, "layout", None)
        data = model.artifact_bytes()
        run = run_model(bench.runtime, data, bench.evaluation, bench.threads, ctx.progress, bench.label, layout)
    except Exception as exc:  # a converter crash in one candidate is that candidate's failure
        return Outcome(error=failure_line(exc))
    return Outcome(pack(model), records, run, seconds=round(time.perf_counter() - started, 3))


def pack(model: Model) -> Packed:
    data = model.to_bytes()
    if data is None:
        raise TypeError(f"a {model.kind} model cannot be sent to a search worker")
    return model.kind, data


def unpack(packed: Packed) -> Model:
    kind, data = packed
    return kind_class(kind).from_bytes(data)  # type: ignore[attr-defined]


def portable_dataset(dataset: Dataset) -> Dataset:
    """The same rows as arrays: rows read from a file handle cannot travel to another process or machine."""
    inputs: dict[str, Rows] = {name: np.ascontiguousarray(rows[0 : len(rows)]) for name, rows in dataset.inputs.items()}
    return replace(dataset, inputs=inputs)


def _portable_context(ctx: Context) -> Context:
    def portable(data: Dataset | None) -> Dataset | None:
        return None if data is None else portable_dataset(data)

    return replace(ctx, calibration=portable(ctx.calibration), training=portable(ctx.training))


@functools.cache
def _cache_at(location: str) -> PassCache:
    """One cache object per worker and location, not one per candidate."""
    return PassCache(location)


@functools.cache
def _scratch(cache: PassCache | None) -> Path:
    """Where a worker keeps calibration ranges between its candidates: the cache's scratch, or a folder
    of its own for as long as the worker lives."""
    return cache.scratch() if cache else Path(tempfile.mkdtemp(prefix="edgec-search-"))
