"""Helpers for the build-registry tests: copies of the demo build standing in for separate compiles, and device
harness results made by hand (a device venv takes minutes; `ingest` only needs results of the right shape)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from edgec.compiler.device_ingest import ingest


def copy_build(source: Path, destination: Path, top1_fall: float = 0.0) -> Path:
    """A copy of a build folder (a new build: the id includes the folder); `top1_fall` lowers every artifact's
    measured top-1 by that fraction in report.json, as a regressed compile would."""
    shutil.copytree(source, destination)
    if top1_fall:
        path = destination / "report.json"
        report = json.loads(path.read_text())
        for artifact in report["artifacts"]:
            evaluation = artifact["evaluation"]
            evaluation["accuracy"] -= top1_fall
            evaluation["accuracy_drop_points"] += 100 * top1_fall
            interval = evaluation["statistics"]["accuracy_interval"]
            evaluation["statistics"]["accuracy_interval"] = [bound - top1_fall for bound in interval]
        path.write_text(json.dumps(report))
    return destination


def harness_results(report: dict[str, Any], started: float, p50_ms: float, top1: float) -> dict[str, Any]:
    """Harness results.json for every artifact of `report`, all at `p50_ms` and `top1` (labels known)."""
    drift = {"agreement": 1.0, "rmse": 0.0, "mae": 0.0, "cosine": 1.0, "max_abs": 0.0, "sqnr_db": "inf"}
    latency = {
        "batch": 1,
        "n": 30,
        **{f"p{q}_ms": p50_ms * f for q, f in ((25, 0.95), (50, 1.0), (75, 1.05), (90, 1.1), (95, 1.2), (99, 1.3))},
        "mean_ms": p50_ms,
        "std_ms": p50_ms / 10,
        "min_ms": p50_ms * 0.9,
        "samples_ms": [p50_ms] * 30,
        "throughput_per_s": 1e3 / p50_ms,
    }
    runs = [
        {
            "artifact": a["name"],
            "sha256": a["sha256"],
            "runtime": a["runtime"],
            "threads": 4,
            "import_ms": 50.0,
            "load_ms": 5.0,
            "first_inference_ms": 1.0,
            "latency": latency,
            "memory": {"start_rss_bytes": 30 << 20, "peak_rss_bytes": 40 << 20},
            "kernels": {
                "kernels": {},
                "int8_kernels": 4,
                "float_compute_kernels": 0,
                "delegate": None,
                "fast_path": True,
            },
            "accuracy": {
                "samples": 256,
                "labels": True,
                "accuracy": top1,
                "host_accuracy": a["evaluation"]["accuracy"],
                "drop_points": 100 * (a["evaluation"]["float_accuracy"] - top1),
                "vs_float": drift,
                "vs_host": {**drift, "identical_fraction": 1.0},
            },
        }
        for a in report["artifacts"]
    ]
    environment = {"cpu": "Cortex-A72", "cores": 4, "machine": "aarch64", "before": {}, "after": {}}
    settings = {"threads": 4, "runs": 30, "min_seconds": 0.2, "max_seconds": 5.0, "warmup": 3}
    return {
        "results_format": 1,
        "harness_version": "1",
        "started_unix": started,
        "seconds": 2.0,
        "bundle": {"sha256": "ab" * 32, "max_latency_ms": None},
        "environment": environment,
        "settings": settings,
        "runs": runs,
    }


def ingest_run(build: Path, label: str, started: float, p50_ms: float, top1: float) -> bool:
    """Fold one hand-made device run into `build` through what `edgec report ingest` runs (and registers);
    whether the run passed the build's device checks."""
    report = json.loads((build / "report.json").read_text())
    results = build.parent / f"results-{label}-{started:.0f}.json"
    results.write_text(json.dumps(harness_results(report, started, p50_ms, top1)))
    return ingest(results, build, label).passed
