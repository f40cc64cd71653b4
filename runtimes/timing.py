"""Latency statistics for one runner: the same code measures on the host and, later, on the device."""

from __future__ import annotations

import time

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
