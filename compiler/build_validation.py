"""A build's validation: every artifact run in its real runtime, compared with the float baseline, timed, and
gated; artifacts over budget are handed to the fallback search and replaced by its choice."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import PassCache
from .data import Dataset
from .engine import PassRecord
from .executors import make_executor
from .kinds import Model, OnnxModel
from .macs import total_macs
from .passes.base import Context
from .pipeline import ArtifactPlan
from .progress import Progress
from .search import Judge, search, unsearchable
from .validation import gate
from .validation.evaluate import Evaluation, RunResult, compare, cross_format, run_model
from .validation.kernels import emulated_samples, final_route, host_kernel_row, run_route

if TYPE_CHECKING:
    from ..targets.profile import TargetProfile
    from .compile_options import CompileOptions

Built = list[tuple[ArtifactPlan, Model, list[PassRecord]]]


@dataclass
class Validation:
    reference: RunResult
    evaluations: list[Evaluation]
    checks: list[gate.GateCheck]
    budget: gate.DriftBudget
    cross_formats: list[dict[str, Any]]


def validate(
    profile: TargetProfile,
    options: CompileOptions,
    reference: RunResult,
    built: Built,
    evaluation: Dataset,
    progress: Progress,
    baseline: OnnxModel,
    scratch: Path | None = None,
) -> Validation:
    """Run each artifact through the runner the device uses, compare it with the baseline's outputs, and apply
    the gate. An emulated run covers the first samples its time budget allows (by the float `baseline`'s MACs,
    counted only when something is emulated); the host's own run beside it covers them all."""
    threads = threads_for(profile)
    runs, evaluations = {}, []
    macs: int | None = None  # per sample, counted once and only when a route is emulated
    for plan, artifact, _ in built:
        name, layout = plan.artifact.name, getattr(artifact, "layout", None)
        route = final_route(profile, plan.artifact.runtime, plan.precision, options.emulate)
        count = len(evaluation)
        if route.source == "emulated":
            macs = (total_macs(baseline) or 0) if macs is None else macs
            count = emulated_samples(macs, count)
        data = evaluation if count == len(evaluation) else evaluation.subset(slice(0, count), evaluation.source)
        runs[name] = run_route(route, artifact.artifact_bytes(), data, threads, progress, name, layout, scratch)
        found = compare(name, reference.first(count), runs[name], data.labels, statistics=True)
        found.kernels = {**route.to_dict(), "samples": count if count < len(evaluation) else None}
        if route.source != "host":
            here = run_model(
                plan.artifact.runtime, artifact.artifact_bytes(), evaluation, threads, progress, name, layout
            )
            found.host_kernels = host_kernel_row(compare(name, reference, here, evaluation.labels), found)
        evaluations.append(found)
    int8 = [(plan.artifact.name, runs[plan.artifact.name]) for plan, _, _ in built if plan.precision == "int8"]
    cross = [cross_format(a, b, reference.output_kind()) for i, a in enumerate(int8) for b in int8[i + 1 :]]
    drift_budget = budget(profile, options)
    checks = gate.check(
        evaluations,
        drift_budget,
        cross,
        profile.budgets.min_cross_format_agreement,
        on_bound=options.gate_on == "bound",
    )
    return Validation(reference, evaluations, checks, drift_budget, cross)


def search_failures(
    profile: TargetProfile,
    options: CompileOptions,
    model: Model,
    baseline: OnnxModel,
    built: Built,
    ctx: Context,
    cache: PassCache | None,
    evaluation: Dataset,
    checked: Validation,
) -> tuple[Built, dict[str, Any]]:
    """Replace each int8 artifact that broke the budget by the fallback search's choice."""
    failed = {c.artifact for c in checked.checks if not c.passed}
    judge = judge_for(profile, options, ctx, cache, evaluation, checked.reference)
    results, replaced = {}, []
    for plan, artifact, records in built:
        reason = unsearchable(plan)
        if plan.artifact.name not in failed or reason:
            replaced.append((plan, artifact, records))
            if plan.artifact.name in failed:
                results[plan.artifact.name] = {"skipped": reason}
            continue
        result = search(plan, model if plan.from_source else baseline, judge)
        chosen = result.chosen
        assert chosen.model is not None
        replaced.append((dataclasses.replace(plan, passes=chosen.passes), chosen.model, chosen.records))
        results[plan.artifact.name] = result.to_dict()
    return replaced, results


def judge_for(
    profile: TargetProfile,
    options: CompileOptions,
    ctx: Context,
    cache: PassCache | None,
    evaluation: Dataset,
    reference: RunResult,
) -> Judge:
    limits, on_bound = options.search_limits, options.gate_on == "bound"
    executor = make_executor(options.executor, options.jobs, options.address)
    drift_budget, threads = budget(profile, options), threads_for(profile)
    return Judge(ctx, cache, evaluation, reference, drift_budget, threads, limits, on_bound, executor)


def budget(profile: TargetProfile, options: CompileOptions) -> gate.DriftBudget:
    """The user's flags over the profile's budgets."""
    budgets = profile.budgets
    return gate.DriftBudget(
        budgets.max_accuracy_drop if options.max_drop is None else options.max_drop,
        budgets.min_agreement if options.min_agreement is None else options.min_agreement,
        budgets.min_sqnr_db if options.min_sqnr_db is None else options.min_sqnr_db,
        options.metric_min,
    )


def threads_for(profile: TargetProfile) -> int:
    """The profile's thread count, capped by this host's cores: validation runs here, not on the device."""
    return max(1, min(profile.threads, os.cpu_count() or 1))
