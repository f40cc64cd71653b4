"""One sweep job, run where an executor puts it (a local process, a Ray worker): compile, then reduce the
build to the numbers the summary needs. It never raises: a failure is a result with its one-line error, so
one bad cell never takes the rest of the sweep down.

    python -m edgec.compiler.sweep.job < job.json > result.json     (how the local executor runs a job)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import failure_line
from ..executors import JobRunner

TIMING_KEYS = ("seconds", "host_p50_ms")  # differ from run to run; everything else in a result must not


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Compile `job` (a Job.to_dict()) and return its result: status, verdict and one row per artifact."""
    start = time.perf_counter()
    head = result_head(job)
    try:
        from ..api import compile

        build = compile(_options(job))
    except Exception as exc:  # a bug or a converter crash too: still this cell's result, not the sweep's end
        return {**head, "status": "failed", "error": failure_line(exc)}
    report = build.report
    return {
        **head,
        "status": "ok",
        "verdict": "PASS" if build.passed else "FAIL",
        "build": str(build.path),
        "float_accuracy": report["baseline"].get("accuracy"),
        "artifacts": [_row(artifact) for artifact in report["artifacts"]],
        "seconds": round(time.perf_counter() - start, 2),
    }


def result_head(job: dict[str, Any]) -> dict[str, Any]:
    """What every result starts with, whoever produced it (the job, or an executor that lost it)."""
    from .spec import Job

    spec = Job(**job)
    return {"id": spec.id, "key": spec.key, "model": spec.model, "target": spec.target, "variant": spec.variant}


def lost(job: dict[str, Any], reason: str) -> dict[str, Any]:
    """The result of a job whose process died under it (a crash, an OOM kill, a lost Ray worker)."""
    return {**result_head(job), "status": "failed", "error": reason}


def _options(job: dict[str, Any]) -> Any:
    from ..api import CompileOptions
    from ..pipeline import Overrides
    from ..prune_request import parse_prune

    options = dict(job["options"])
    shape = options.pop("input-shape", None)
    prune = options.pop("prune", None)
    return CompileOptions(
        source=options.pop("source", None),
        target=job["target"],
        calib=_path(options.pop("calib", None)),
        eval=_path(options.pop("eval", None)),
        output=Path(job["output"]),
        force=True,  # a job's folder belongs to the sweep; a re-run replaces what it left
        input_shapes=(tuple(shape),) if shape else (),
        overrides=Overrides(
            pipeline=options.pop("pipeline", None),
            quantize=options.pop("quantize", True),
            calibration=options.pop("calibration", None),
        ),
        max_drop=options.pop("max-drop", None),
        search=options.pop("search", True),
        prune=parse_prune(prune) if prune else None,
        cache_dir=job.get("cache_dir"),
        project=Path(job["project"]),
        progress=False,
    )


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def _row(artifact: dict[str, Any]) -> dict[str, Any]:
    evaluation = artifact.get("evaluation", {})
    latency = artifact.get("latency") or {}
    cost = artifact.get("cost") or {}
    return {
        "file": artifact["file"],
        "runtime": artifact["runtime"],
        "bytes": artifact["size_bytes"],
        "compressed_bytes": artifact["compressed_bytes"],
        "accuracy": evaluation.get("accuracy"),
        "accuracy_drop_points": evaluation.get("accuracy_drop_points"),
        "sqnr_db": evaluation.get("drift", {}).get("sqnr_db"),
        "estimated_latency_ms": cost.get("latency_estimate_ms"),
        "host_p50_ms": latency.get("p50_ms"),
    }


RUNNER = JobRunner(run_job, "edgec.compiler.sweep.job", lost)  # what an executor is given to run sweep jobs


def main() -> None:
    json.dump(run_job(json.load(sys.stdin)), sys.stdout)


if __name__ == "__main__":
    main()
