"""`compile()`: the whole recipe, used by the CLI and by Python callers alike.

Read it top to bottom: each step is one call, and every check that can fail on user input runs before the
first expensive step.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..targets.profile import ProfileError, TargetProfile, load_profile
from . import report as reporting
from .cache import PassCache, default_cache_dir
from .data import Dataset, check_dataset, load_dataset
from .engine import PassRecord, check_chain, run_passes
from .errors import ConfigError, InputError
from .frontends import SourceInfo, SourceRequest, load_source
from .kinds import OnnxModel, TorchModel
from .output import MANIFEST, check_destination, write_build
from .passes.base import Context
from .pipeline import ArtifactPlan, Overrides, import_passes, plan_artifacts
from .progress import Progress
from .validation import gate
from .validation.evaluate import Evaluation, compare, run_model

BASELINE_FILE = "baseline.float32.onnx"


@dataclass(frozen=True)
class CompileOptions:
    """Everything a compile can be told; the CLI maps its flags onto these fields one to one."""

    source: str | None = None
    target: str = "host-x86"
    calib: Path | None = None
    eval: Path | None = None
    output: Path | None = None
    force: bool = False
    input_shapes: tuple[tuple[int, ...], ...] = ()
    input_names: tuple[str, ...] = ()
    weights: Path | None = None
    trust_pickle: bool = False
    overrides: Overrides = field(default_factory=Overrides)
    max_drop: float | None = None
    min_agreement: float | None = None
    cache_dir: Path | None = None
    use_cache: bool = True
    holdout: float = 0.2
    progress: bool | None = None


@dataclass
class BuildResult:
    path: Path
    report: dict[str, Any]
    checks: list[gate.GateCheck]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def cached_passes(self) -> list[str]:
        stages = [self.report["import"]] + [a["passes"] for a in self.report["artifacts"]]
        return [rec["name"] for stage in stages for rec in stage if rec["cached"]]

    @property
    def ran_passes(self) -> list[str]:
        stages = [self.report["import"]] + [a["passes"] for a in self.report["artifacts"]]
        return [rec["name"] for stage in stages for rec in stage if not rec["cached"]]


def compile(options: CompileOptions) -> BuildResult:
    started = time.perf_counter()
    # 1. Decide everything that needs no model: the profile, the output path, every artifact's pipeline.
    profile = _profile(options.target)
    out = options.output or Path("build") / f"{_source_name(options.source)}-{profile.id}"
    check_destination(out, options.force)
    plans = plan_artifacts(profile, options.overrides)
    for plan in plans:
        check_chain("onnx", list(plan.passes))
    progress = Progress(options.progress)
    cache = PassCache(options.cache_dir or default_cache_dir()) if options.use_cache else None
    # 2. Import: load the source and convert it to the float ONNX baseline every artifact is judged against.
    request = SourceRequest(
        options.source, options.input_shapes, options.input_names, options.weights, options.trust_pickle
    )
    model, info = load_source(request)
    baseline, import_records = run_passes(
        model, import_passes(model.kind), Context(profile, None, progress), cache, None
    )
    assert isinstance(baseline, OnnxModel)
    # 3. Data: calibration and evaluation sets, checked against the baseline's inputs.
    calibration, evaluation = _datasets(options, baseline, plans)
    # 4. Passes: one pipeline per artifact; shared prefixes come from the cache.
    ctx = Context(profile, calibration, progress)
    calibration_hash = calibration.sha256 if calibration else None
    built = [(plan, *_build_artifact(baseline, plan, ctx, cache, calibration_hash)) for plan in plans]
    # 5. Validate: the baseline and every artifact in its real runtime, on the evaluation data.
    threads = max(1, min(profile.threads, os.cpu_count() or 1))
    reference = run_model("onnxruntime", baseline.to_bytes(), evaluation, threads, progress, "float baseline")
    parity = _export_parity(model, reference.outputs, evaluation)
    evaluations = [
        compare(
            plan.artifact.name,
            reference,
            run_model(plan.artifact.runtime, artifact.to_bytes(), evaluation, threads, progress, plan.artifact.name),
            evaluation.labels,
        )
        for plan, artifact, _ in built
    ]
    budgets = profile.budgets
    max_drop = budgets.max_accuracy_drop if options.max_drop is None else options.max_drop
    min_agreement = budgets.min_agreement if options.min_agreement is None else options.min_agreement
    checks = gate.check(evaluations, max_drop, min_agreement)
    # 6. Report and write the build atomically.
    files = {BASELINE_FILE: baseline.to_bytes()}
    artifacts = []
    for (plan, artifact, records), ev in zip(built, evaluations, strict=True):
        name = f"{info.name}.{plan.precision}.{plan.artifact.format}"
        files[name] = artifact.to_bytes()
        artifacts.append(_artifact_entry(name, plan, artifact, records, ev, len(files[BASELINE_FILE])))
    report: dict[str, Any] = {
        "schema_version": reporting.SCHEMA_VERSION,
        "edgec_version": __version__,
        "target": {
            "id": profile.id,
            "description": profile.description,
            "threads": profile.threads,
            "quantization": dataclasses.asdict(profile.quantization),
        },
        "source": dataclasses.asdict(info),
        "data": {"calibration": _data_entry(calibration), "evaluation": _data_entry(evaluation)},
        "baseline": {
            "file": BASELINE_FILE,
            "runtime": f"{reference.runtime} {reference.version}",
            "size_bytes": len(files[BASELINE_FILE]),
            "accuracy": evaluations[0].float_accuracy if evaluations else None,
            "export_parity": parity,
        },
        "import": reporting.records(import_records),
        "artifacts": artifacts,
        "gate": {
            "max_accuracy_drop_points": max_drop,
            "min_agreement": min_agreement,
            "checks": [dataclasses.asdict(c) for c in checks],
            "passed": all(c.passed for c in checks),
        },
        "tools": reporting.tool_versions(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    files["report.json"] = reporting.to_json(report)
    files["report.md"] = reporting.render_markdown(report).encode()
    files[MANIFEST] = reporting.to_json(_manifest(report, info, files))
    path = write_build(out, files, report["gate"]["passed"])
    return BuildResult(path, report, checks)


def _build_artifact(
    baseline: OnnxModel, plan: ArtifactPlan, ctx: Context, cache: PassCache | None, calibration_hash: str | None
) -> tuple[OnnxModel, list[PassRecord]]:
    artifact, records = run_passes(baseline, list(plan.passes), ctx, cache, calibration_hash)
    assert isinstance(artifact, OnnxModel)  # check_chain guaranteed the pipeline ends in ONNX
    return artifact, records


def _export_parity(source: Any, baseline_outputs: Any, evaluation: Dataset) -> dict[str, Any] | None:
    """Torch sources only: how far the ONNX baseline is from the module it was exported from."""
    if not isinstance(source, TorchModel):
        return None
    from .validation.source_parity import torch_parity

    return torch_parity(source, baseline_outputs, evaluation)


def _profile(target: str) -> TargetProfile:
    try:
        return load_profile(target)
    except ProfileError as exc:
        raise ConfigError(f"--target: {exc}") from None


def _source_name(source: str | None) -> str:
    if source is None:
        return "digits-cnn"
    return source.rpartition(":")[2] if ":" in source and not Path(source).exists() else Path(source).stem


def _datasets(
    options: CompileOptions, baseline: OnnxModel, plans: list[ArtifactPlan]
) -> tuple[Dataset | None, Dataset]:
    specs = baseline.inputs
    needs_calibration = any(p.uses_calibration for plan in plans for p in plan.passes)
    if options.source is None and options.calib is None and options.eval is None:
        from .frontends.demo import demo_split

        return check_dataset(demo_split("calib"), specs), check_dataset(demo_split("eval"), specs)
    calibration = load_dataset(options.calib, specs, "calib") if options.calib else None
    evaluation = load_dataset(options.eval, specs, "eval") if options.eval else None
    if evaluation is None:
        if calibration is None:
            raise InputError(
                "no data: pass --calib data.npz (calibration; part of it is held back for "
                "evaluation) and preferably --eval data.npz"
            )
        calibration, evaluation = calibration.split_holdout(options.holdout)
    if needs_calibration and calibration is None:
        raise InputError("quantization needs calibration data: pass --calib data.npz, or --no-quantize")
    return calibration, evaluation


def _data_entry(data: Dataset | None) -> dict[str, Any]:
    if data is None:
        return {}
    return {
        "source": data.source,
        "samples": len(data),
        "labels": data.labels is not None,
        "sha256": data.sha256,
        "held_out": "held back" in data.source,
    }


def _artifact_entry(
    file: str, plan: ArtifactPlan, artifact: OnnxModel, records: list[PassRecord], ev: Evaluation, float_size: int
) -> dict[str, Any]:
    data = artifact.to_bytes()
    details = next((r.details for r in records if r.name == "quantize"), {})
    return {
        "name": plan.artifact.name,
        "file": file,
        "format": plan.artifact.format,
        "runtime": plan.artifact.runtime,
        "precision": plan.precision,
        "pipeline": ",".join(p.spec() for p in plan.passes),
        "size_bytes": len(data),
        "size_ratio": round(len(data) / float_size, 4),
        "sha256": hashlib.sha256(data).hexdigest(),
        "ops": artifact.op_counts(),
        "quantization": details,
        "passes": reporting.records(records),
        "evaluation": dataclasses.asdict(ev),
    }


def _manifest(report: dict[str, Any], info: SourceInfo, files: dict[str, bytes]) -> dict[str, Any]:
    """Hashes of everything that went in and came out, so a build can be verified and reproduced."""
    return {
        "edgec_version": __version__,
        "target": report["target"]["id"],
        "inputs": {
            "model": {"location": info.location, "sha256": info.sha256},
            "calibration": report["data"]["calibration"].get("sha256"),
            "evaluation": report["data"]["evaluation"].get("sha256"),
        },
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in files.items()
            if name != MANIFEST
        },
        "pipeline": {a["name"]: a["pipeline"] for a in report["artifacts"]},
        "tools": report["tools"],
        "timings": {
            "total_s": report["seconds"],
            "passes": {
                f"{stage}:{rec['name']}": rec["seconds"]
                for stage, recs in [("import", report["import"])]
                + [(a["name"], a["passes"]) for a in report["artifacts"]]
                for rec in recs
            },
        },
    }
