"""`compile()`: the whole recipe, used by the CLI and by Python callers alike.

Read it top to bottom: each step is one call, and every check that can fail on user input runs before the
first expensive step.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..runtimes import metrics
from ..runtimes.cpu_features import host_cpu
from ..runtimes.jsonio import to_json
from ..targets.profile import ProfileError, TargetProfile, load_profile
from . import report as reporting
from .build_validation import Validation, judge_for, search_failures, threads_for, validate
from .builds.hook import promoted_baseline, register_quietly
from .cache import PassCache, default_cache_dir
from .compile_data import datasets, training_data
from .compile_options import CompileOptions
from .constant_inputs import frozen
from .cost.measured_arena import with_measured_arena
from .data import Dataset
from .engine import PassRecord, check_chain, run_passes
from .errors import ConfigError
from .frontends import SourceRequest, kind_of, load_source
from .kinds import Model, OnnxModel, TorchModel
from .output import MANIFEST, check_destination, write_build
from .partial_build import build_each
from .passes.base import Context
from .pipeline import ArtifactPlan, import_passes, plan_artifacts
from .progress import Progress
from .prune_search import PLOT_FILE, auto_prune, measured_plan
from .report_diff import diff_reports, load_report, regression_checks
from .report_html import render_html
from .report_md import render_markdown
from .report_prune import plot_curve
from .spec import PassSpec
from .target_checks import check_artifacts, check_weights_fit, latency_checks
from .validation import gate
from .validation.evaluate import run_model, settle_output_kind
from .validation.latency import host_latency
from .validation.trace import Tracer

BASELINE_FILE = "baseline.float32.onnx"
GATE_ON = ("point", "bound")  # the drop's measured value, or the upper end of its bootstrap interval


@dataclass
class BuildResult:
    path: Path
    report: dict[str, Any]
    checks: list[gate.GateCheck]
    build_id: str | None = None  # its id in the build registry (None when the registry could not be written)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def cached_passes(self) -> list[str]:
        return [rec["name"] for _, rec in reporting.stages(self.report) if rec["cached"]]

    @property
    def ran_passes(self) -> list[str]:
        return [rec["name"] for _, rec in reporting.stages(self.report) if not rec["cached"]]


def compile(options: CompileOptions) -> BuildResult:
    """Compile one model for one target and write the build; the result says where it landed and if it passed.

    Bad input raises an InputError before anything is written; a build over budget is still written (beside
    any existing build, never over it) and comes back with `passed` False.
    """
    started = time.perf_counter()
    # 1. Decide everything that needs no model: the profile, the output path, every artifact's pipeline.
    profile = _profile(options.target)
    out = options.output or Path("build") / f"{_source_name(options.source)}-{profile.id}"
    check_destination(out, options.force)
    previous = load_report(options.baseline) if options.baseline else None
    baseline_name = str(options.baseline)
    if options.gate_on not in GATE_ON:
        raise ConfigError(f"gate_on must be one of {', '.join(GATE_ON)}, got {options.gate_on!r}")
    source_kind = kind_of(options.source)
    overrides = options.overrides
    finetune = _finetune(options)
    if options.prune:
        overrides = dataclasses.replace(overrides, prune=options.prune.fixed(), finetune=finetune)
    plans = plan_artifacts(profile, overrides, source_kind)
    for plan in plans:
        check_chain(source_kind if plan.from_source else "onnx", list(plan.passes))
    progress = Progress(options.progress)
    cache = PassCache(options.cache_dir or default_cache_dir()) if options.use_cache else None
    # 2. Import: load the source and convert it to the float ONNX baseline every artifact is judged against.
    request = SourceRequest(
        options.source, options.input_shapes, options.input_names, options.weights, options.trust_pickle
    )
    model, info = load_source(request)
    check_weights_fit(model, profile, info.location)
    if previous is None and options.promoted_baseline:
        previous, baseline_name = _promoted_report(profile.id, info.name, options.project)
    baseline, import_records = run_passes(model, import_passes(model.kind), Context(profile, None, progress), cache)
    assert isinstance(baseline, OnnxModel)
    baseline, frozen_inputs = frozen(baseline, options.constants)
    if frozen_inputs and any(plan.from_source for plan in plans):
        raise ConfigError("--input NAME=VALUE freezes an ONNX graph's input; this target converts the source itself")
    # 3. Data: calibration and evaluation sets, checked against the baseline's inputs.
    calibration, evaluation = datasets(options, baseline, plans)
    training = training_data(options, baseline)
    threads = threads_for(profile)
    label = f"float baseline of {info.location}"  # named: when it does not run, the error says which model
    reference = run_model("onnxruntime", baseline.to_bytes(), evaluation, threads, progress, label)
    settle_output_kind(reference, evaluation, options.output_kind, options.metric)
    # 4. Passes: one pipeline per artifact; shared prefixes come from the cache.
    ctx = Context(profile, calibration, progress, cache.scratch() if cache else None, training)
    pruning = None
    if options.prune and options.prune.auto:
        judge = judge_for(profile, options, ctx, cache, evaluation, reference)
        pruning = auto_prune(options.prune, measured_plan(plans), baseline, judge)
        prune = options.prune.at(pruning.chosen) if pruning.chosen else None  # none within budget: unpruned
        plans = plan_artifacts(profile, dataclasses.replace(overrides, prune=prune), source_kind)
    starts = {p.artifact.name: model if p.from_source else baseline for p in plans}
    kept: dict[str, list[Model]] = {name: [] for name in starts}  # every pass's output, for tracing
    built, not_built = build_each(plans, starts, ctx, cache, kept, info.name)
    constraints, costs = check_artifacts(profile, info.name, built)
    # 5. Validate: the baseline and every artifact in its real runtime, on the evaluation data.
    checked = validate(profile, options, reference, built, evaluation, progress, baseline, ctx.scratch)
    searches: dict[str, Any] = {}
    if options.search and not all(c.passed for c in checked.checks):
        built, searches = search_failures(profile, options, model, baseline, built, ctx, cache, evaluation, checked)
        constraints, costs = check_artifacts(profile, info.name, built)
        checked = validate(profile, options, reference, built, evaluation, progress, baseline, ctx.scratch)
    checked.checks += latency_checks(costs) + [failure.check() for failure in not_built]
    # 6. Record: artifacts, report and manifest, written atomically.
    tracer = Tracer(ctx, cache, checked.reference, evaluation, threads)
    measured = {  # on the final artifacts only: a search may have replaced the first ones
        plan.artifact.name: {
            "latency": host_latency(artifact, plan.artifact.runtime, evaluation, threads),
            "trace": tracer.artifact(plan, starts[plan.artifact.name], artifact, records, kept, found),
            "cost": with_measured_arena(costs[plan.artifact.name].to_dict(), plan.artifact.runtime, artifact),
        }
        for (plan, artifact, records), found in zip(built, checked.evaluations, strict=True)
    }
    files, artifacts = _artifact_files(info.name, baseline, built, checked, measured)
    data_entries = {
        "calibration": reporting.data_entry(calibration),
        "evaluation": reporting.data_entry(evaluation),
        "training": reporting.data_entry(training),
    }
    regression = None
    if previous is not None:
        names = (baseline_name, str(out))
        now = {"artifacts": artifacts, "data": data_entries}
        found = diff_reports(previous, now, options.baseline_max_drop, names, options.baseline_max_latency_increase)
        regression = found.to_dict()
        checked.checks += regression_checks(found)
    report: dict[str, Any] = {
        "schema_version": reporting.SCHEMA_VERSION,
        "edgec_version": __version__,
        "target": {
            "id": profile.id,
            "description": profile.description,
            "threads": profile.threads,
            "isa": profile.isa_family,
            "quantization": dataclasses.asdict(profile.quantization),
        },
        "source": dataclasses.asdict(info),
        "host": host_cpu().to_dict(),  # the machine every host-measured number here came from
        "data": data_entries,
        "baseline": {
            "file": BASELINE_FILE,
            "runtime": f"{checked.reference.runtime} {checked.reference.version}",
            "size_bytes": len(files[BASELINE_FILE]),
            "accuracy": metrics.accuracy(checked.reference.outputs, evaluation.labels, checked.reference.kind)
            if evaluation.labels is not None
            else None,
            # the source takes the frozen inputs as arguments, the baseline does not: parity would compare other calls
            "export_parity": None if frozen_inputs else _export_parity(model, checked.reference.outputs, evaluation),
            "frozen_inputs": frozen_inputs,
        },
        "import": reporting.records(import_records),
        "artifacts": artifacts,
        "failed_artifacts": [failure.to_dict() for failure in not_built],
        "constraints": constraints,
        "cross_format": checked.cross_formats,
        "search": searches,
        "prune_search": pruning.to_dict() if pruning else None,
        "baseline_diff": regression,
        "gate": {
            **checked.budget.to_dict(),
            "on": options.gate_on,
            "min_cross_format_agreement": profile.budgets.min_cross_format_agreement,
            "checks": [dataclasses.asdict(c) for c in checked.checks],
            "passed": all(c.passed for c in checked.checks),
        },
        "tools": reporting.tool_versions(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if pruning and pruning.curve:
        files[PLOT_FILE] = plot_curve(pruning)
    files["report.json"] = to_json(report)
    files["report.md"] = render_markdown(report).encode()
    files["report.html"] = render_html(report).encode()
    files[MANIFEST] = to_json(reporting.manifest(report, info, files))
    path = write_build(out, files, report["gate"]["passed"], replace=options.force)
    return BuildResult(path, report, checked.checks, register_quietly(path, options.project))


def _artifact_files(
    model_name: str,
    baseline: OnnxModel,
    built: list[tuple[ArtifactPlan, Model, list[PassRecord]]],
    checked: Validation,
    measured: dict[str, dict[str, Any]],
) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """The build's model files (baseline first) and each artifact's report entry."""
    files = {BASELINE_FILE: baseline.to_bytes()}
    entries = []
    for (plan, artifact, records), evaluation in zip(built, checked.evaluations, strict=True):
        name = f"{model_name}.{plan.precision}.{plan.artifact.format}"
        files[name] = artifact.artifact_bytes()
        entry = reporting.artifact_entry(name, plan, artifact, records, evaluation, len(files[BASELINE_FILE]))
        entries.append({**entry, **measured[plan.artifact.name]})
    return files, entries


def _export_parity(source: Any, baseline_outputs: Any, evaluation: Dataset) -> dict[str, Any] | None:
    """Torch sources only: how far the ONNX baseline is from the module it was exported from."""
    if not isinstance(source, TorchModel):
        return None
    from .validation.source_parity import torch_parity

    return torch_parity(source, baseline_outputs, evaluation)


def _promoted_report(target: str, model: str, project: Path | None) -> tuple[dict[str, Any] | None, str]:
    """The report of the build promoted for this target and model (the default regression baseline), if any."""
    found = promoted_baseline(target, model, project)
    return (load_report(found[0]), found[1]) if found else (None, "")


def _profile(target: str) -> TargetProfile:
    try:
        return load_profile(target)
    except ProfileError as exc:
        raise ConfigError(f"--target: {exc}") from None


def _source_name(source: str | None) -> str:
    if source is None:
        return "digits-cnn"
    return source.rpartition(":")[2] if ":" in source and not Path(source).exists() else Path(source).stem


def _finetune(options: CompileOptions) -> PassSpec | None:
    """The fine-tuning pass `--recover-epochs N` asks for, checked before any work: it recovers from pruning."""
    if options.recover_epochs < 0:
        raise ConfigError(f"--recover-epochs {options.recover_epochs}: give a number of epochs, at least 1")
    if options.train and not options.recover_epochs:
        raise ConfigError("--train: say how many epochs to fine-tune with --recover-epochs N (e.g. 2)")
    if options.recover_epochs and not options.prune:
        raise ConfigError("--recover-epochs: fine-tuning recovers what pruning cost; add --prune (e.g. structured:0.4)")
    return PassSpec("finetune", {"epochs": str(options.recover_epochs)}) if options.recover_epochs else None
