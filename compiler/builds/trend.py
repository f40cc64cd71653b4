"""A target's history as series of points, and the drift between consecutive points of each series.

Two kinds of series: `host` (one point per registered build, per artifact: the host median latency and top-1
measured at compile time, so a step is a change of build) and `device` (one point per device run, per device
label and artifact, on the bundled evaluation set, so a step on the same build is the device changing: thermal
throttling, an OS or runtime update). Drift is flagged when the median latency moves by more than
`latency_percent` or top-1 by more than `accuracy_points` between two consecutive points of one series; both
directions are flagged, since a sudden speed-up is as suspicious as a slow-down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .registry import device_runs, list_builds

LATENCY_PERCENT = 20.0
ACCURACY_POINTS = 1.0


@dataclass(frozen=True)
class Point:
    time: float
    build: str
    p50_ms: float | None
    top1: float | None  # fraction


@dataclass
class Series:
    kind: str  # host | device
    label: str  # "host" or the device label
    artifact: str
    points: list[Point] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.label} {self.artifact}"


@dataclass(frozen=True)
class Drift:
    series: str
    before: Point
    after: Point
    metric: str  # latency | accuracy
    what: str  # one line: which metric moved, from what to what


def trend(target: str, registry: Path | None = None) -> list[Series]:
    """Every host and device series of `target`, points oldest first."""
    series: dict[tuple[str, str, str], Series] = {}
    for build in list_builds(target, registry):
        for artifact, metrics in build.metrics.items():
            point = Point(build.created, build.id, metrics.get("host_p50_ms"), metrics.get("top1"))
            series.setdefault(("host", "host", artifact), Series("host", "host", artifact)).points.append(point)
    for build_id, run in device_runs(target, registry):
        for artifact, metrics in run["artifacts"].items():
            if "error" in metrics:
                continue
            point = Point(run["started"], build_id, metrics["p50_ms"], metrics.get("top1"))
            key = ("device", run["label"], artifact)
            series.setdefault(key, Series("device", run["label"], artifact)).points.append(point)
    return list(series.values())


def drifts(
    series: list[Series], latency_percent: float = LATENCY_PERCENT, accuracy_points: float = ACCURACY_POINTS
) -> list[Drift]:
    """Steps between consecutive points of a series that move beyond the thresholds."""
    found = []
    for one in series:
        for before, after in zip(one.points, one.points[1:], strict=False):
            if before.p50_ms and after.p50_ms is not None:
                change = 100 * (after.p50_ms - before.p50_ms) / before.p50_ms
                if abs(change) > latency_percent:
                    what = f"p50 {before.p50_ms:.3f} -> {after.p50_ms:.3f} ms ({change:+.1f}%)"
                    found.append(Drift(one.name, before, after, "latency", what))
            if before.top1 is not None and after.top1 is not None:
                change = 100 * (after.top1 - before.top1)
                if abs(change) > accuracy_points:
                    what = f"top-1 {100 * before.top1:.2f}% -> {100 * after.top1:.2f}% ({change:+.2f} points)"
                    found.append(Drift(one.name, before, after, "accuracy", what))
    return found
