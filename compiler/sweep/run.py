"""Drive a sweep: skip what an earlier run finished, hand the rest to an executor, record each result as it
arrives, then write the summary (summary.json, summary.md, summary.png) in the sweep's output folder.

Each result is written to `jobs/<id>.json` the moment it arrives (atomically), so a sweep that is killed or
loses workers keeps everything it finished; the re-run redoes only jobs without a good result for their
current key (a failed job, a job whose options changed, a job whose build folder is gone).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..executors import Executor
from ..progress import Progress
from .job import RUNNER
from .spec import Sweep
from .summary import plot, render_table, summary_rows


@dataclass
class SweepResult:
    output: Path
    rows: list[dict[str, Any]]
    ran: int
    reused: int

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] != "ok"]


def run_sweep(sweep: Sweep, executor: Executor, progress: Progress) -> SweepResult:
    results_dir = sweep.output / "jobs"
    results_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    for job in sweep.jobs:
        previous = _read(results_dir / f"{job.id}.json")
        done = previous and previous.get("status") == "ok" and previous.get("key") == job.key
        if done and Path(previous["build"]).is_dir():  # type: ignore[index]
            results[job.id] = previous  # type: ignore[assignment]
    todo = [job.to_dict() for job in sweep.jobs if job.id not in results]
    reused = len(results)
    progress.step(f"sweep: {len(todo)} of {len(sweep.jobs)} job(s) to run on {executor.name} ({reused} done before)")

    def record(result: dict[str, Any]) -> None:
        _write(results_dir / f"{result['id']}.json", json.dumps(result, indent=1))
        results[result["id"]] = result
        outcome = result.get("verdict") if result["status"] == "ok" else f"failed: {result['error'][:120]}"
        progress.step(f"[{len(results) - reused}/{len(todo)}] {result['id']}: {outcome}")

    executor.run(RUNNER, todo, record)
    ordered = [results[job.id] for job in sweep.jobs]
    rows = summary_rows(ordered)
    _write(sweep.output / "summary.json", json.dumps({"sweep": str(sweep.path), "rows": rows}, indent=1))
    _write(sweep.output / "summary.md", f"# Sweep {sweep.path.name}\n\n" + render_table(rows))
    plot(rows, sweep.output / "summary.png")
    return SweepResult(sweep.output, rows, len(todo), reused)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text)
    partial.replace(path)
