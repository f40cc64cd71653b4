"""Accuracy-budgeted int8: find the few layers that must stay float, and return the fastest passing artifact.

Users of every quantizer ask "which layers do I exclude?"; tuners stop at the first passing model or save
nothing when they fail. This search, for an int8 artifact (ONNX through `quantize{exclude_nodes}`, TFLite
through `tflite{exclude_nodes}`) whose naive int8 breaks the budget:
  0. tries cross-layer equalization first (no layer left in float), and continues from it only when it
     keeps clearly more signal (EQUALIZE_MIN_GAIN_DB);
  1. measures each compute op's sensitivity: how much output SQNR improves when that op alone stays float;
  2. keeps ops in float greedily, most sensitive first, until the budget holds;
  3. prunes that set: drops each kept op again if the budget still holds without it;
  4. times every passing candidate on the host runner and returns the fastest (fewest float MACs on a tie);
     when none passes, the best-effort candidate (highest accuracy, then SQNR) with a failing verdict.
The passes before the quantizing one run once per pipeline; trials re-quantize from cached calibration
(ORT's ranges, TFLite's calibrated model), so each costs a quantization, not a calibration or conversion.
The search selects on the evaluation data, which makes its reported drift optimistic: the report says so.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import PassCache
from .candidates import Workbench, evaluate, pack
from .data import Dataset
from .engine import PassRecord, run_passes
from .errors import EdgecError, ToolchainError, clip
from .executors import Executor, LocalExecutor
from .kinds import Model, OnnxModel
from .passes.base import Context, Pass
from .passes.equalize import Equalize
from .passes.quantize import Quantize
from .passes.tflite import Tflite
from .pipeline import ArtifactPlan
from .validation import gate
from .validation.evaluate import Evaluation, RunResult, compare
from .validation.kernels import search_route
from .validation.latency import host_latency
from .validation.tensor_error import tensor_sqnr

SELECTIVE = (Quantize, Tflite)  # the passes whose `exclude_nodes` keeps ops in float
EQUALIZE_MIN_GAIN_DB = 0.5  # below this, equalization's gain is calibration noise, not a fix


def unsearchable(plan: ArtifactPlan) -> str:
    """Why the search cannot help this artifact ('' when it can)."""
    selective = [p for p in plan.passes if isinstance(p, SELECTIVE)]
    if plan.precision != "int8" or not selective:
        return "not an int8 artifact"
    last = selective[-1]
    if isinstance(last, Tflite) and last.io != "float32":
        return f"the target needs integer IO (io={last.io}), so no op inside may stay float"
    return ""


@dataclass(frozen=True)
class SearchLimits:
    """The search stops at whichever comes first."""

    seconds: float = 300.0
    trials: int = 60


@dataclass
class Trial:
    passes: tuple[Pass, ...]
    excluded: tuple[str, ...]
    evaluation: Evaluation
    passed: bool
    float_mac_fraction: float
    latency_ms: float | None = None
    stage: str = ""
    model: Model | None = field(default=None, repr=False)
    records: list[PassRecord] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        ev = self.evaluation
        return {
            "stage": self.stage,
            "pipeline": ",".join(p.name for p in self.passes),
            "float_nodes": list(self.excluded),
            "passed": self.passed,
            "accuracy_drop_points": ev.accuracy_drop_points,
            "agreement": ev.drift["agreement"],
            "sqnr_db": ev.drift["sqnr_db"],
            "float_mac_fraction": round(self.float_mac_fraction, 4),
            "latency_p50_ms": self.latency_ms,
        }


@dataclass
class SearchResult:
    chosen: Trial
    trials: list[Trial]
    sensitivity: list[dict[str, Any]]
    stopped_by: str
    tensor_sqnr: list[dict[str, Any]]
    failed: list[dict[str, Any]]  # candidates that could not be built or run, with their errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen.to_dict(),
            "passed": self.chosen.passed,
            "stopped_by": self.stopped_by,
            "sensitivity": self.sensitivity,
            "tensor_sqnr": self.tensor_sqnr,
            "trials": [t.to_dict() for t in self.trials],
            "failed_candidates": self.failed,
            "note": "candidates were selected on the evaluation data, so their drift is optimistic; "
            "confirm on a held-out set",
        }


@dataclass(frozen=True)
class Judge:
    """How a search builds and judges its candidates; the quantization fallback and the prune search share it."""

    ctx: Context
    cache: PassCache | None
    evaluation: Dataset
    reference: RunResult
    budget: gate.DriftBudget  # as the build's gate applies it
    threads: int
    limits: SearchLimits
    on_bound: bool = False  # judge the drop's upper 95% bound, as `--gate-on bound` judges the build
    executor: Executor = field(default_factory=LocalExecutor)  # where candidates are built and run

    def verdict(self, name: str, run: RunResult) -> tuple[Evaluation, bool]:
        """A candidate's evaluation and whether the build's gate would pass it."""
        return judged(name, self.reference, run, self.evaluation, self.budget, self.on_bound)


def judged(
    name: str, reference: RunResult, run: RunResult, data: Dataset, budget: gate.DriftBudget, on_bound: bool
) -> tuple[Evaluation, bool]:
    """Gate a candidate exactly as the final validation gates the build (statistics only when the bound is
    gated: the bootstrap is the costly part)."""
    evaluation = compare(name, reference, run, data.labels, statistics=on_bound)
    return evaluation, all(c.passed for c in gate.check([evaluation], budget, on_bound=on_bound))


@dataclass
class _Search:
    """The state one search carries: what to build, how to judge it, and what it has spent."""

    plan: ArtifactPlan
    start: Model
    ctx: Context
    cache: PassCache | None
    evaluation: Dataset
    reference: RunResult
    budget: gate.DriftBudget
    threads: int
    limits: SearchLimits
    on_bound: bool = False
    executor: Executor = field(default_factory=LocalExecutor)
    trials: dict[tuple[Any, ...], Trial] = field(default_factory=dict)
    failures: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)  # candidates with no result
    prepared: dict[tuple[str, ...], tuple[Model, list[PassRecord]]] = field(default_factory=dict)
    costs: dict[tuple[str, ...], dict[str, int]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def selective_index(self) -> int:
        return max(i for i, p in enumerate(self.plan.passes) if isinstance(p, SELECTIVE))

    def exhausted(self) -> str:
        if self.remaining <= 0:
            return f"trial budget ({self.limits.trials})"
        if time.monotonic() - self.started >= self.limits.seconds:
            return f"time budget ({self.limits.seconds:g} s)"
        return ""

    def prepare(self) -> tuple[Model, list[PassRecord]]:
        """The model the quantizing pass starts from, built once per pipeline (a conversion is not a trial)."""
        passes = self.plan.passes[: self.selective_index]
        key = tuple(p.spec() for p in passes)
        if key not in self.prepared:
            self.prepared[key] = run_passes(self.start, list(passes), self.ctx, self.cache)
        return self.prepared[key]

    def macs(self) -> dict[str, int]:
        """The current pipeline's candidate ops and their MACs, as its quantizing pass names them."""
        key = tuple(p.spec() for p in self.plan.passes)
        if key not in self.costs:
            selective: Any = self.plan.passes[self.selective_index]
            self.costs[key] = selective.candidates(self.prepare()[0], self.ctx)
        return self.costs[key]

    @property
    def remaining(self) -> int:
        return self.limits.trials - len(self.trials) - len(self.failures)

    def trial(self, excluded: tuple[str, ...], stage: str) -> Trial | None:
        """One candidate's trial (None when it could not be built or run: see `failures`)."""
        return self.batch([excluded], stage)[0]

    def batch(self, requests: Sequence[tuple[str, ...]], stage: str) -> list[Trial | None]:
        """Trials keeping each request's ops float; the ones not tried before are built as one batch, in
        parallel when the executor has several workers."""
        index = self.selective_index
        pipeline = tuple(p.spec() for p in self.plan.passes)
        keys = [(pipeline, tuple(sorted(excluded))) for excluded in requests]
        todo = list(dict.fromkeys(k for k in keys if k not in self.trials and k not in self.failures))
        if todo:
            self._run(todo, index, stage)
        return [self.trials.get(key) for key in keys]

    def _run(self, keys: list[tuple[Any, ...]], index: int, stage: str) -> None:
        prepared, prepared_records = self.prepare()
        candidates = []
        for _, nodes in keys:
            pipeline = list(self.plan.passes)
            pipeline[index] = dataclasses.replace(pipeline[index], exclude_nodes=nodes)  # type: ignore[call-arg]
            candidates.append(tuple(pipeline))
        name = self.plan.artifact.name
        runtime = search_route(self.ctx.profile, self.plan.artifact.runtime, self.plan.precision).runtime
        bench = Workbench(pack(prepared), self.ctx, self.evaluation, runtime, self.threads, name)
        if len(keys) > 1:
            self.ctx.progress.step(f"{name}: {len(keys)} {stage} trials on {self.executor.name}")
        outcomes = evaluate(self.executor, bench, [c[index:] for c in candidates], self.cache)
        for (key, passes), outcome in zip(zip(keys, candidates, strict=True), outcomes, strict=True):
            nodes = key[1]
            if outcome.run is None:
                self.failures[key] = {"stage": stage, "float_nodes": list(nodes), "error": outcome.error}
                continue
            evaluation, passed = judged(name, self.reference, outcome.run, self.evaluation, self.budget, self.on_bound)
            macs = self.macs() if nodes else {}
            fraction = sum(macs.get(n, 0) for n in nodes) / (sum(macs.values()) or 1)
            records = prepared_records + outcome.records
            self.trials[key] = Trial(passes, nodes, evaluation, passed, fraction, None, stage, outcome.model, records)

    def latency(self, trial: Trial) -> float:
        if trial.latency_ms is None:
            assert trial.model is not None
            trial.latency_ms = host_latency(
                trial.model, self.plan.artifact.runtime, self.evaluation, self.threads, max_runs=30
            )["p50_ms"]
        return trial.latency_ms


def search(plan: ArtifactPlan, start: Model, judge: Judge) -> SearchResult:
    """Run the fallback search for one int8 artifact (see the module docstring for the steps); the chosen
    trial carries the artifact's whole pipeline and pass records."""
    reason = unsearchable(plan)
    if reason:
        raise ValueError(f"{plan.artifact.name}: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        ctx = judge.ctx
        if ctx.scratch is None:  # without a cache, trials still share one calibration
            ctx = dataclasses.replace(ctx, scratch=Path(tmp))
        shared = {f.name: getattr(judge, f.name) for f in dataclasses.fields(judge)}
        state = _Search(plan, start, **{**shared, "ctx": ctx})
        ctx.progress.step(f"searching which layers of {plan.artifact.name} must stay float")
        naive = _naive_or_equalized(state)
        tensors = _tensor_sqnr(state, naive)
        sensitivity = [] if naive.passed else _sensitivity(state, naive)
        _greedy_then_prune(state, [row["node"] for row in sensitivity if row["sqnr_gain_db"] is not None])
        passing = [t for t in state.trials.values() if t.passed]
        if passing:
            chosen = min(passing, key=lambda t: (state.latency(t), t.float_mac_fraction))
        else:
            chosen = max(
                state.trials.values(),
                key=lambda t: (_decision_quality(t.evaluation), t.evaluation.sqnr_db),
            )
        stopped = state.exhausted() or "completed"
        failed = list(state.failures.values())
        return SearchResult(chosen, list(state.trials.values()), sensitivity, stopped, tensors, failed)


def _naive_or_equalized(state: _Search) -> Trial:
    """The plain int8 trial, or the equalized one when cross-layer equalization clearly helps."""
    naive = state.trial((), "naive int8")
    if naive is None:
        (failure,) = state.failures.values()
        raise ToolchainError(f"{state.plan.artifact.name}: the search cannot rebuild naive int8: {failure['error']}")
    passes = state.plan.passes
    position = next(i for i, p in enumerate(passes) if isinstance(p, SELECTIVE) or p.produces != "onnx")
    onnx_there = passes[position - 1].produces == "onnx" if position else state.start.kind == "onnx"
    if naive.passed or not onnx_there or any(isinstance(p, Equalize) for p in passes):
        return naive
    plain = state.plan
    before = [*passes[:position], Equalize()]
    try:
        _, records = run_passes(state.start, before, state.ctx, state.cache)
    except EdgecError as exc:  # a candidate that cannot be built is a failed candidate, not the end of the compile
        state.failures[("equalize",)] = {"stage": "equalize", "float_nodes": [], "error": clip(str(exc))}
        return naive
    if records[-1].modified:  # without an equalizable pair it is the naive model again: no trial
        state.plan = dataclasses.replace(plain, passes=(*before, *passes[position:]))
        equalized = state.trial((), "equalize")
        gain = EQUALIZE_MIN_GAIN_DB
        if equalized and equalized.evaluation.sqnr_db >= naive.evaluation.sqnr_db + gain:
            return equalized
    state.plan = plain
    return naive


def _decision_quality(evaluation: Evaluation) -> float:
    """Accuracy with labels, else agreement, else nothing to rank by (a regression output: SQNR decides)."""
    if evaluation.accuracy is not None:
        return evaluation.accuracy
    agreement = evaluation.drift["agreement"]
    return 0.0 if agreement is None else agreement


def _tensor_sqnr(state: _Search, naive: Trial) -> list[dict[str, Any]]:
    """Where the naive int8 error enters, tensor by tensor (ONNX QDQ models: ORT's debugging utilities)."""
    if not isinstance(state.plan.passes[state.selective_index], Quantize) or state.ctx.calibration is None:
        return []
    prepared = state.prepare()[0]
    assert isinstance(prepared, OnnxModel) and isinstance(naive.model, OnnxModel)
    return tensor_sqnr(prepared, naive.model, state.ctx.calibration)


def _sensitivity(state: _Search, naive: Trial) -> list[dict[str, Any]]:
    """Output-SQNR gain when each compute op alone stays float, most sensitive first (None: not measured).
    The ops are independent trials, so they go to the executor a batch at a time."""
    macs = state.macs()
    nodes, gains = list(macs), dict[str, float | None]()
    while len(gains) < len(nodes) and not state.exhausted():
        chunk = nodes[len(gains) : len(gains) + min(state.executor.width, state.remaining)]
        for node, alone in zip(chunk, state.batch([(n,) for n in chunk], "sensitivity"), strict=True):
            gain = None if alone is None else alone.evaluation.sqnr_db - naive.evaluation.sqnr_db
            gains[node] = None if gain is None else round(gain, 3)
    rows = [{"node": node, "macs": macs[node], "sqnr_gain_db": gains.get(node)} for node in nodes]
    return sorted(rows, key=lambda r: (r["sqnr_gain_db"] is None, -(r["sqnr_gain_db"] or 0.0), r["macs"]))


def _greedy_then_prune(state: _Search, ranking: list[str]) -> None:
    kept: list[str] = []
    for node in ranking:
        if state.exhausted() or len(kept) + 1 >= len(state.macs()):  # all-float is not an int8 artifact
            return
        kept.append(node)
        if _passed(state.trial(tuple(kept), "greedy")):
            break
    else:
        return
    for node in reversed(list(kept)):  # least sensitive first
        if state.exhausted():
            return
        without = tuple(n for n in kept if n != node)
        if without and _passed(state.trial(without, "prune")):
            kept.remove(node)


def _passed(trial: Trial | None) -> bool:
    return trial is not None and trial.passed
