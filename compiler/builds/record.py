"""A build folder read as a registry row: everything comes from its manifest.json and report.json.

Taking every field from the folder (never from the compile's memory) is what lets `reindex` rebuild the
registry from the folders alone. The build id is derived from the folder too: 12 hex digits of the sha256 of
the manifest, less the entries of the report views that `edgec report ingest` rewrites (so ingesting device
results keeps the id), and of the folder's absolute path (so two copies of one build are two builds, each with
its own artifacts to ship).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..output import MANIFEST

REPORT = "report.json"
VIEWS = frozenset({"report.json", "report.md", "report.html"})  # rewritten by ingest: not part of the identity
ID_LENGTH = 12


@dataclass(frozen=True)
class BuildRecord:
    """One registered build; `metrics` and `artifacts` are keyed/ordered by artifact name (onnx, tflite)."""

    id: str
    created: float
    model: str
    model_sha256: str | None
    calibration_sha256: str | None
    evaluation_sha256: str | None
    target: str
    pipelines: dict[str, str]
    edgec_version: str
    tools: dict[str, str]
    artifacts: list[dict[str, Any]]  # name, file, sha256, bytes, path
    metrics: dict[str, dict[str, Any]]  # per artifact: top1, drop_points, agreement, sqnr_db, host_p50_ms, host_cpu
    verdict: str  # pass | fail: the build's own gate
    path: str
    device_runs: list[dict[str, Any]] = field(default_factory=list, compare=False)


def read_folder(folder: Path, created: float) -> BuildRecord:
    """The record of the build in `folder`, with its device runs; InputError when it is not a readable build."""
    folder = folder.absolute()
    manifest, report = _read_json(folder / MANIFEST), _read_json(folder / REPORT)
    try:
        return _record(folder, manifest, report, created)
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{folder}: manifest.json or report.json lacks {exc}; not an edgec build folder") from None


def folder_id(folder: Path) -> str:
    """The id the build now in `folder` has (raises InputError when there is none)."""
    folder = folder.absolute()
    return build_id(_read_json(folder / MANIFEST), folder)


def build_id(manifest: dict[str, Any], folder: Path) -> str:
    stable = {**manifest, "files": {k: v for k, v in manifest["files"].items() if k not in VIEWS}}
    text = json.dumps(stable, sort_keys=True, separators=(",", ":")) + "\0" + str(folder)
    return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]


def device_run_summary(run: dict[str, Any]) -> dict[str, Any]:
    """What the registry keeps of one report.json device run: per artifact latency, accuracy and agreement."""
    artifacts = {}
    for entry in run["artifacts"]:
        if "error" in entry:
            artifacts[entry["artifact"]] = {"error": entry["error"]}
            continue
        accuracy = entry.get("accuracy") or {}
        artifacts[entry["artifact"]] = {
            "p50_ms": entry["latency"]["p50_ms"],
            "p90_ms": entry["latency"].get("p90_ms"),
            "top1": accuracy.get("accuracy") if accuracy.get("labels") else None,
            "drop_points": accuracy.get("drop_points") if accuracy.get("labels") else None,
            "agreement_vs_host": (accuracy.get("vs_host") or {}).get("agreement"),
        }
    return {
        "label": run["label"],
        "started": float(run["started_unix"]),
        "bundle_sha256": run["bundle_sha256"],
        "passed": bool(run["passed"]),
        "artifacts": artifacts,
    }


def _record(folder: Path, manifest: dict[str, Any], report: dict[str, Any], created: float) -> BuildRecord:
    files = manifest["files"]
    artifacts = [
        {
            "name": a["name"],
            "file": a["file"],
            "sha256": files[a["file"]]["sha256"],
            "bytes": files[a["file"]]["bytes"],
            "path": str(folder / a["file"]),
        }
        for a in report["artifacts"]
    ]
    inputs = manifest["inputs"]
    return BuildRecord(
        id=build_id(manifest, folder),
        created=created,
        model=report["source"]["name"],
        model_sha256=inputs["model"]["sha256"],
        calibration_sha256=inputs.get("calibration"),
        evaluation_sha256=inputs.get("evaluation"),
        target=manifest["target"],
        pipelines=dict(manifest["pipeline"]),
        edgec_version=manifest["edgec_version"],
        tools=dict(manifest["tools"]),
        artifacts=artifacts,
        metrics={a["name"]: _metrics(a) for a in report["artifacts"]},
        verdict="pass" if report["gate"]["passed"] else "fail",
        path=str(folder),
        device_runs=[device_run_summary(run) for run in report.get("device_runs") or []],
    )


def _metrics(artifact: dict[str, Any]) -> dict[str, Any]:
    evaluation, latency = artifact["evaluation"], artifact.get("latency") or {}
    drift = evaluation.get("drift") or {}
    return {
        "top1": evaluation.get("accuracy"),
        "drop_points": evaluation.get("accuracy_drop_points"),
        "agreement": drift.get("agreement"),
        "sqnr_db": drift.get("sqnr_db"),
        "host_p50_ms": latency.get("p50_ms"),
        "host_cpu": latency.get("cpu"),
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: missing; not an edgec build folder (it needs manifest.json, report.json)") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc}); is the build folder damaged?") from None
    if not isinstance(found, dict):
        raise InputError(f"{path}: not an edgec {path.name}")
    return found
