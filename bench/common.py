"""What every benchmark shares: a load check, interleaved peer timing, and where results go."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from edgec.runtimes import open_runner
from edgec.runtimes.timing import summarize_ms, time_runs

RESULTS = Path(__file__).parent / "results"


def check_load() -> float:
    """The 1-minute load average; on 2 vCPUs a busy neighbour doubles latencies, so it is reported."""
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.2f} before the benchmark; latencies may be inflated")
    return load


def time_peers(
    models: dict[str, bytes],
    feeds: dict[str, np.ndarray],
    threads: int,
    rounds: int = 5,
    runs: int = 20,
    warmup: int = 5,
) -> dict[str, dict[str, float]]:
    """Time each model in rounds that alternate between peers, so drift in machine load hits all alike."""
    runners = {name: open_runner("onnxruntime", data, threads=threads) for name, data in models.items()}
    for runner in runners.values():
        time_runs(runner, feeds, warmup)
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, runner in runners.items():
            samples[name] += time_runs(runner, feeds, runs)
    return {name: summarize_ms(values) for name, values in samples.items()}


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path
