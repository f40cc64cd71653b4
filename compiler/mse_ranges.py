"""MSE-optimal activation ranges: the clipping range whose int8 grid reproduces the calibration values best.

MinMax spends the 256 levels on the rarest extremes; percentile and entropy clip by rules that ignore the
grid. Here each tensor's histogram is scored directly: for a range [lo, hi] (which, as ORT requires,
contains zero) the expected squared error is the clipping error of values outside it plus the rounding
noise step^2 / 12 of values inside, step = (hi - lo) / 255. Prefix sums over the histogram make each
candidate O(1), so a dense grid of candidates costs little.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .activations import float_tensors, stream
from .data import Dataset
from .kinds import OnnxModel

BINS = 2048
CANDIDATES = 128  # per side of zero
LEVELS = 256


class Histograms:
    """Per-tensor histograms over fixed [min, max] ranges, filled batch by batch."""

    def __init__(self, bounds: dict[str, tuple[float, float]]):
        self.bounds = {n: (min(lo, 0.0), max(hi, 0.0)) for n, (lo, hi) in bounds.items()}
        self.counts = {n: np.zeros(BINS, dtype=np.float64) for n in bounds}

    def add(self, batch: dict[str, np.ndarray]) -> None:
        for name, values in batch.items():
            lo, hi = self.bounds[name]
            if hi > lo:
                self.counts[name] += np.histogram(values, BINS, range=(lo, hi))[0]

    def ranges(self) -> dict[str, tuple[float, float]]:
        return {name: best_range(self.counts[name], *self.bounds[name]) for name in self.counts}


def bounds_of(batches: Iterable[dict[str, np.ndarray]]) -> dict[str, tuple[float, float]]:
    """Each tensor's min and max over all batches (the histograms' extent)."""
    bounds: dict[str, tuple[float, float]] = {}
    for batch in batches:
        for name, values in batch.items():
            lo, hi = float(values.min()), float(values.max())
            old = bounds.get(name, (lo, hi))
            bounds[name] = (min(old[0], lo), max(old[1], hi))
    return bounds


def best_range(counts: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """The [lo', hi'] within [lo, hi] (zero kept inside) with the least expected int8 error."""
    if hi <= lo or counts.sum() == 0:
        return lo, hi
    centers = lo + (np.arange(len(counts)) + 0.5) * (hi - lo) / len(counts)
    c0, c1, c2 = (np.concatenate([[0.0], np.cumsum(counts * centers**k)]) for k in (0, 1, 2))
    los = -_candidates(-lo) if lo < 0 else np.zeros(1)
    his = _candidates(hi) if hi > 0 else np.zeros(1)
    a, b = np.meshgrid(los, his, indexing="ij")
    below = np.asarray(np.searchsorted(centers, a))  # bins [0, below) are clipped up to a
    above = np.asarray(np.searchsorted(centers, b, side="right"))  # bins [above, n) are clipped down to b
    n = len(counts)

    def clip_error(start: np.ndarray, stop: np.ndarray, edge: np.ndarray) -> np.ndarray:
        s0, s1, s2 = c0[stop] - c0[start], c1[stop] - c1[start], c2[stop] - c2[start]
        return s2 - 2 * edge * s1 + edge**2 * s0

    inside = c0[above] - c0[below]
    step = (b - a) / (LEVELS - 1)
    error = clip_error(np.zeros_like(below), below, a) + clip_error(above, np.full_like(above, n), b)
    error = error + inside * step**2 / 12
    i, j = np.unravel_index(np.argmin(error), error.shape)
    return float(a[i, j]), float(b[i, j])


def _candidates(extent: float) -> np.ndarray:
    """Clipping points in (0, extent]: evenly spaced, plus geometric ones for heavy tails whose best clip is
    a small fraction of the extreme."""
    even = np.linspace(0.0, extent, CANDIDATES + 1)[1:]
    return np.unique(np.concatenate([even, np.geomspace(extent / BINS, extent, CANDIDATES)]))


def mse_ranges(
    model: OnnxModel, data: Dataset, batch: int, on_batch: Callable[[int], None]
) -> dict[str, tuple[float, float]]:
    """MSE-optimal ranges of every float activation of `model` on `data`: one pass for the extremes, one for
    the histograms."""
    names = float_tensors(model)
    histograms = Histograms(bounds_of(stream(model, data, names, batch)))
    for values in stream(model, data, names, batch):
        histograms.add(values)
        on_batch(len(next(iter(values.values()))))
    return histograms.ranges()
