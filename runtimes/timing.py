"""Latency statistics for one runner: the same code measures on the host and, later, on the device."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .runner import Runner


def time_runs(runner: Runner, feeds: dict[str, np.ndarray], runs: int) -> list[float]:
    """Wall-clock milliseconds of `runs` consecutive inferences (warm-up is the caller's choice)."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        runner.run(feeds)
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def bounded_runs(
    runner: Runner,
    feeds: dict[str, np.ndarray],
    min_runs: int,
    min_seconds: float,
    max_seconds: float = math.inf,
    max_runs: int | None = None,
) -> list[float]:
    """Timed runs until there are `min_runs` of them *and* `min_seconds` have passed, cut short by `max_seconds`
    or `max_runs`; always at least one. The host's quick measurement and the device harness share this loop."""
    samples: list[float] = []
    started = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - started
        capped = len(samples) >= (max_runs or math.inf) or elapsed >= max_seconds
        if samples and (capped or (len(samples) >= min_runs and elapsed >= min_seconds)):
            return samples
        samples += time_runs(runner, feeds, 1)


def latency_record(samples: list[float]) -> dict[str, Any]:
    """summarize_ms rounded to 0.1 us, with every sample kept (reports plot the distribution)."""
    stats = {key: round(value, 4) for key, value in summarize_ms(samples).items()}
    return {**stats, "samples_ms": [round(s, 4) for s in samples]}


def summarize_ms(samples: list[float]) -> dict[str, float]:
    """Percentiles users of benchmark_model expect, plus the quartiles a noise estimate of the median needs."""
    values = np.asarray(samples)
    p25, p50, p75, p90, p95, p99 = np.percentile(values, [25, 50, 75, 90, 95, 99])
    return {
        "n": len(values),
        "p25_ms": float(p25),
        "p50_ms": float(p50),
        "p75_ms": float(p75),
        "p90_ms": float(p90),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "mean_ms": float(values.mean()),
        "std_ms": float(values.std()),
        "min_ms": float(values.min()),
    }
