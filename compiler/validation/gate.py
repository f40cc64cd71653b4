"""The drift gate: each artifact's numbers against the budget, pass or fail, with the numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .evaluate import Evaluation

# metrics whose limit is a ceiling (the rest are floors)
CEILINGS = ("accuracy_drop", "p50_latency_change", "device_p90", "device_accuracy_drop", "estimated_latency")


@dataclass(frozen=True)
class GateCheck:
    artifact: str
    metric: str
    value: float
    limit: float
    passed: bool

    def describe(self) -> str:
        relation = "<=" if self.metric.startswith(CEILINGS) else ">="
        verdict = "ok" if self.passed else "OVER BUDGET"
        return f"{self.artifact}: {self.metric} {self.value:.4g} (budget {relation} {self.limit:g}) {verdict}"


def check(
    evaluations: list[Evaluation],
    max_drop: float,
    min_agreement: float,
    cross_formats: Sequence[dict[str, Any]] = (),
    min_cross_agreement: float = 0.0,
    on_bound: bool = False,
) -> list[GateCheck]:
    """Accuracy drop in points when labels exist; top-1 agreement with the float model when they do not;
    and agreement between the same model's artifacts in two formats, which must not contradict each other.

    `on_bound` gates on the upper end of the drop's 95% paired-bootstrap interval instead of the point value:
    stricter, and a build passes only when the data show its drop is within budget, not merely measured so."""
    checks = []
    for ev in evaluations:
        if ev.accuracy_drop_points is not None:
            bound = (ev.statistics or {}).get("drop_interval_points") if on_bound else None
            metric, value = (
                ("accuracy_drop_upper_bound_points", bound[1])
                if bound
                else ("accuracy_drop_points", ev.accuracy_drop_points)
            )
            checks.append(GateCheck(ev.artifact, metric, value, max_drop, value <= max_drop))
        else:
            value = ev.drift["agreement"]
            checks.append(GateCheck(ev.artifact, "agreement", value, min_agreement, value >= min_agreement))
    for pair in cross_formats:
        value = pair["agreement"]
        checks.append(
            GateCheck(
                " vs ".join(pair["pair"]),
                "cross_format_agreement",
                value,
                min_cross_agreement,
                value >= min_cross_agreement,
            )
        )
    return checks
