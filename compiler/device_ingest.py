"""`edgec report ingest`: fold the device harness's results.json into the build's report.

The device's numbers are judged where the build's are: latency against the profile's `max_latency_ms` (the
p90, because a budget is about the slow runs), the device's accuracy drop against the build's own gate, and
the device's outputs against the host's for the same artifact (a runtime or CPU difference, not quantization,
so it is held to the build's agreement floor). The report keeps every run, so a device's history accumulates;
re-ingesting the same results replaces its entry instead of adding a second. The run is then recorded in the
project's build registry too (re-registering the build keeps its id: ingest rewrites only the report views), so
`edgec builds show` has the device history; a registry that cannot be written costs a warning, not the ingest.

The build folder is rewritten as a whole through output.write_build, so a reader never sees a report.json
that disagrees with its report.html or manifest.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runtimes.jsonio import to_json
from .builds.hook import register_quietly
from .errors import InputError, clip
from .output import MANIFEST, write_build
from .report import SCHEMA_VERSION, manifest_files
from .report_diff import load_report
from .report_html import render_html
from .report_md import render_markdown
from .report_schema import check_report
from .validation.gate import GateCheck

RESULTS_FORMAT = 1
MAX_DEPTH = 32  # the harness writes 5 levels; report.json's readers (schema, renderers) recurse


@dataclass
class Ingested:
    build: Path
    run: dict[str, Any]
    registered: str | None = None  # the build's id in the project's registry; None when it could not be written

    @property
    def passed(self) -> bool:
        return bool(self.run["passed"])


def ingest(results_path: Path, build: Path | None, label: str | None = None) -> Ingested:
    results = _read_results(results_path)
    build = build or _build_beside(results_path)
    report = load_report(build)
    run = device_run(results, report, label or results["environment"].get("cpu", "device"), str(results_path))
    runs = [r for r in report.get("device_runs", []) if _key(r) != _key(run)]
    report = {**report, "schema_version": SCHEMA_VERSION, "device_runs": [*runs, run]}
    check_report(report, f"{results_path} merged into {build / 'report.json'}")
    rewrite_views(build, report)
    return Ingested(build, run, register_quietly(build))


def rewrite_views(build: Path, report: dict[str, Any]) -> None:
    """Write report.json and its views, and a manifest that lists their new hashes, in one atomic swap."""
    manifest = json.loads((build / MANIFEST).read_text())
    files = {name: (build / name).read_bytes() for name in manifest["files"]}
    files.update(
        {
            "report.json": to_json(report),
            "report.md": render_markdown(report).encode(),
            "report.html": render_html(report).encode(),
        }
    )
    manifest["files"] = manifest_files(files)
    files[MANIFEST] = to_json(manifest)
    write_build(build, files, passed=True)


def device_run(results: dict[str, Any], report: dict[str, Any], label: str, where: str) -> dict[str, Any]:
    artifacts = {a["name"]: a for a in report["artifacts"]}
    environment = results["environment"]
    entries, checks = [], []
    for run in results["runs"]:
        artifact = artifacts.get(run["artifact"])
        if artifact is None or artifact["sha256"] != run.get("sha256"):
            raise InputError(
                f"{where}: artifact {run['artifact']!r} (sha256 {str(run.get('sha256'))[:12]}) is not in this build; "
                "ingest results into the build their bundle was made from"
            )
        if "error" in run:
            entries.append({"artifact": run["artifact"], "sha256": run["sha256"], "error": run["error"]})
            checks.append(GateCheck(run["artifact"], "ran on device", 0.0, 1.0, False))
            continue
        entry = _artifact_entry(run, artifact, environment)
        entries.append(entry)
        # an emulated core's timings are qemu's, not the device's: its accuracy is judged, its latency is not
        latency_budget = None if environment.get("emulated") else results["bundle"].get("max_latency_ms")
        checks += _checks(entry, report, latency_budget)
    return {
        "label": label,
        "started_unix": results["started_unix"],
        "seconds": results["seconds"],
        "harness_version": results["harness_version"],
        "bundle_sha256": results["bundle"]["sha256"],
        "settings": results["settings"],
        "environment": environment,
        "artifacts": entries,
        "checks": [dataclasses.asdict(c) for c in checks],
        "passed": all(c.passed for c in checks),
    }


def _artifact_entry(run: dict[str, Any], artifact: dict[str, Any], environment: dict[str, Any]) -> dict[str, Any]:
    latency = {
        "where": "device",
        "cpu": environment.get("cpu", "unknown"),
        "runtime": run["runtime"],
        "threads": run["threads"],
        **run["latency"],
    }
    host = artifact.get("latency") or {}
    accuracy = run["accuracy"]
    comparison: dict[str, Any] = {
        "host_p50_ms": host.get("p50_ms"),
        "host_cpu": host.get("cpu"),
        "host_threads": host.get("threads"),
        "latency_ratio": latency["p50_ms"] / host["p50_ms"] if host.get("p50_ms") else None,
        "accuracy_delta_points": None,
        "outputs": accuracy["vs_host"],
    }
    if accuracy.get("labels"):
        comparison["accuracy_delta_points"] = (accuracy["accuracy"] - accuracy["host_accuracy"]) * 100
    return {
        "artifact": run["artifact"],
        "sha256": run["sha256"],
        "runtime": run["runtime"],
        "threads": run["threads"],
        "import_ms": run["import_ms"],
        "load_ms": run["load_ms"],
        "first_inference_ms": run["first_inference_ms"],
        "latency": latency,
        "memory": run["memory"],
        "kernels": run["kernels"],
        "accuracy": accuracy,
        "device_vs_host": comparison,
    }


def _checks(entry: dict[str, Any], report: dict[str, Any], max_latency_ms: float | None) -> list[GateCheck]:
    name, gate, accuracy = entry["artifact"], report["gate"], entry["accuracy"]
    checks = []
    if max_latency_ms is not None:
        p90 = entry["latency"]["p90_ms"]
        checks.append(GateCheck(name, "device_p90_ms", p90, max_latency_ms, p90 <= max_latency_ms))
    if accuracy.get("labels"):
        drop, limit = accuracy["drop_points"], gate["max_accuracy_drop_points"]
        checks.append(GateCheck(name, "device_accuracy_drop_points", drop, limit, drop <= limit))
    agreement, floor = accuracy["vs_host"]["agreement"], gate["min_agreement"]
    if agreement is not None:  # None: a regression output, whose device numbers are its SQNR vs float
        checks.append(GateCheck(name, "device_vs_host_agreement", agreement, floor, agreement >= floor))
    return checks


def _key(run: dict[str, Any]) -> tuple[Any, ...]:
    return run["bundle_sha256"], run["started_unix"]


def _read_results(path: Path) -> dict[str, Any]:
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; run the harness first (edgec run, or python model.bundle)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc}); give the harness's results.json") from None
    except RecursionError:  # device output is untrusted: `[[[[...` is valid JSON that no decoder can nest
        raise InputError(
            f"{path}: nested deeper than any harness results (JSON arrays or objects thousands deep); "
            "give the harness's results.json"
        ) from None
    problem = _untrusted_shape(results)
    if problem is not None:
        raise InputError(f"{path}: {problem}; re-run the harness (or give its unedited results.json)")
    if not isinstance(results, dict) or results.get("results_format") != RESULTS_FORMAT:
        raise InputError(f"{path}: not harness results of format {RESULTS_FORMAT} (results_format is missing or other)")
    missing = [k for k in ("bundle", "environment", "runs", "settings", "started_unix") if k not in results]
    if missing:
        raise InputError(f"{path}: harness results without {', '.join(missing)}; re-run the harness")
    return results


def _untrusted_shape(results: Any) -> str | None:
    """What makes parsed results unfit for report.json, found without recursion (depth is the attacker's): a
    nesting deeper than the harness writes, or a NaN or infinite figure (JSON's NaN/Infinity literals, or 1e400).
    Written into report.json, such a figure becomes the string "nan", which then fails the report's schema on
    every later read; the harness itself spells SQNR's legitimate infinity as the string "inf"."""
    stack: list[tuple[str, Any, int]] = [("results", results, 0)]
    while stack:
        where, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"{clip(where, 80)} is nested deeper than the harness writes ({MAX_DEPTH} levels)"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{clip(where, 200)} is {value}, not a finite number"
        if isinstance(value, dict):
            stack += [(f"{where}.{key}", item, depth + 1) for key, item in value.items()]
        elif isinstance(value, list):
            stack += [(f"{where}[{i}]", item, depth + 1) for i, item in enumerate(value)]
    return None


def _build_beside(results_path: Path) -> Path:
    folder = results_path.resolve().parent
    if (folder / "report.json").is_file():
        return folder
    raise InputError(f"{results_path}: which build? pass --build BUILD (the folder the bundle was made from)")
