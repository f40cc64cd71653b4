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
    values = np.asarray(samples)
    return {
        "n": len(values),
        "p50_ms": float(np.median(values)),
        "p90_ms": float(np.percentile(values, 90)),
        "p99_ms": float(np.percentile(values, 99)),
        "mean_ms": float(values.mean()),
        "std_ms": float(values.std()),
        "min_ms": float(values.min()),
    }
