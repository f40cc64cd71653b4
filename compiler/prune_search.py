"""`--prune structured:auto` / `unstructured:auto`: the largest amount whose int8 drift stays within budget.

Drift grows with the amount pruned, so the search walks the grid upwards, stops at the first amount over
budget, then halves the gap between the last amount that passed and that one twice. Each point is the real
artifact: the target's first artifact pipeline (its ONNX one when it has one: no conversion per point) with
the prune pass at that amount, evaluated in its runtime against the float baseline, with its batch-1 latency
and size. Every point explored is kept: the report shows the curve (table and plot), not only the winner.
Grid points go to the search's executor a batch at a time (as many as it has workers), so a wider executor
may also measure a few points past the first failure: the chosen amount is the same, and so is every point
both measured.

The gate is the build's own (accuracy drop, or agreement without labels), on the evaluation data; the chosen
amount is then built for every artifact and validated as usual, so a TFLite artifact that drifts more than
the ONNX one measured here is still caught (and searched) by the normal gate.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from .candidates import Workbench, evaluate, pack
from .kinds import Model
from .pipeline import ArtifactPlan
from .prune_request import PruneRequest
from .registry import build_pass
from .search import Judge
from .validation.kernels import search_route
from .validation.latency import host_latency

REFINEMENTS = 2


@dataclass
class CurvePoint:
    amount: float
    passed: bool
    accuracy_drop_points: float | None
    agreement: float | None  # None: the output has no decisions (regression)
    latency_p50_ms: float
    size_bytes: int
    compressed_bytes: int
    seconds: float
    sqnr_db: float


@dataclass
class PruneSearch:
    request: str
    pass_name: str
    option: str
    measured_on: str
    budget: dict[str, float | None]
    chosen: float | None = None
    stopped_by: str = "grid"
    curve: list[CurvePoint] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)  # amounts that could not be built or run

    def to_dict(self) -> dict[str, Any]:
        points = sorted(self.curve, key=lambda p: p.amount)
        return {**asdict(self), "curve": [asdict(p) for p in points], "plot": PLOT_FILE if self.curve else None}


PLOT_FILE = "prune_curve.png"


def measured_plan(plans: list[ArtifactPlan]) -> ArtifactPlan:
    """The artifact the curve is measured on: the first ONNX one (fast to build), else the first."""
    return next((p for p in plans if p.artifact.format == "onnx"), plans[0])


def auto_prune(request: PruneRequest, plan: ArtifactPlan, baseline: Model, judge: Judge) -> PruneSearch:
    started = time.perf_counter()
    ctx, evaluation, budget, threads, limits = judge.ctx, judge.evaluation, judge.budget, judge.threads, judge.limits
    found = PruneSearch(
        request.text,
        request.spec.name,
        request.amount_option,
        plan.artifact.name,
        budget.to_dict(),
    )
    position = next(i for i, p in enumerate(plan.passes) if p.name == request.spec.name)

    def measure(amounts: list[float]) -> list[CurvePoint | None]:
        """The curve's points at `amounts`, built and evaluated as one batch (None: the point failed)."""
        ctx.progress.step(f"prune search: {request.amount_option}={', '.join(f'{a:g}' for a in amounts)}")
        candidates = []
        for amount in amounts:
            passes = list(plan.passes)
            passes[position] = build_pass(request.at(amount))
            candidates.append(tuple(passes))
        runtime = search_route(ctx.profile, plan.artifact.runtime, plan.precision).runtime
        bench = Workbench(pack(baseline), ctx, evaluation, runtime, threads, plan.artifact.name)
        points: list[CurvePoint | None] = []
        for amount, outcome in zip(amounts, evaluate(judge.executor, bench, candidates, judge.cache), strict=True):
            if outcome.run is None:
                found.failed.append({"amount": amount, "error": outcome.error})
                points.append(None)
                continue
            evaluated, passed = judge.verdict(plan.artifact.name, outcome.run)
            data = outcome.model.artifact_bytes()
            latency = host_latency(outcome.model, plan.artifact.runtime, evaluation, threads, max_runs=30)
            point = CurvePoint(
                amount,
                passed,
                evaluated.accuracy_drop_points,
                evaluated.drift["agreement"],
                latency["p50_ms"],
                len(data),
                len(zlib.compress(data, 9)),
                outcome.seconds,
                evaluated.sqnr_db,
            )
            found.curve.append(point)
            points.append(point)
        return points

    def room() -> int:
        """Points the search may still measure (0 once out of time or trials)."""
        left = limits.trials - len(found.curve) - len(found.failed)
        if time.perf_counter() - started > limits.seconds or left <= 0:
            found.stopped_by = "budget"
            return 0
        return left

    passed, failed = None, None
    grid = list(request.grid)
    while grid and failed is None and room():
        size = min(judge.executor.width, room())
        chunk, grid = grid[:size], grid[size:]
        for amount, point in zip(chunk, measure(chunk), strict=True):
            if failed is None and point is not None and point.passed:
                passed = amount
            elif failed is None:  # the walk ends at the first amount over budget (or that failed to build)
                failed = amount
    for _ in range(REFINEMENTS if failed is not None else 0):
        if not room():
            break
        assert failed is not None
        middle = round(((passed or 0.0) + failed) / 2, 4)
        point = measure([middle])[0]
        if point is not None and point.passed:
            passed = middle
        else:
            failed = middle
    found.chosen = passed
    return found
