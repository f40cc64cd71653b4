"""The drift gate: each artifact's numbers against the budget, pass or fail, with the numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .evaluate import Evaluation

# metrics whose limit is a ceiling (the rest are floors)
CEILINGS = ("accuracy_drop", "p50_latency_change", "device_p90", "device_accuracy_drop", "estimated_latency")


@dataclass(frozen=True)
class DriftBudget:
    """What an artifact may lose against the float model, as the gate (and every search trial) applies it.

    `min_sqnr_db` is the floor that catches a collapse the decision metrics cannot see: a [N, 1] score whose
    int8 output is noise can still agree on most thresholded decisions when most samples sit far from the
    threshold, and a regression output has no decisions at all."""

    max_drop: float  # accuracy points, with labels
    min_agreement: float  # without labels
    min_sqnr_db: float = float("-inf")
    min_user_metric: float | None = None  # --metric-min: the user's metric replaces accuracy/agreement

    def to_dict(self) -> dict[str, float | None]:
        return {
            "max_accuracy_drop_points": self.max_drop,
            "min_agreement": self.min_agreement,
            "min_sqnr_db": self.min_sqnr_db,
            "min_user_metric": self.min_user_metric,
        }


@dataclass(frozen=True)
class GateCheck:
    artifact: str
    metric: str
    value: float
    limit: float
    passed: bool

    def describe(self) -> str:
        if self.metric == "artifact_built":  # partial_build.py: the converter's message is in the report
            return f"{self.artifact}: NOT BUILT (report.json failed_artifacts says why)"
        relation = "<=" if self.metric.startswith(CEILINGS) else ">="
        verdict = "ok" if self.passed else "OVER BUDGET"
        return f"{self.artifact}: {self.metric} {self.value:.4g} (budget {relation} {self.limit:g}) {verdict}"


def check(
    evaluations: list[Evaluation],
    budget: DriftBudget,
    cross_formats: Sequence[dict[str, Any]] = (),
    min_cross_agreement: float = 0.0,
    on_bound: bool = False,
) -> list[GateCheck]:
    """Accuracy drop in points when labels give one; agreement with the float model's decisions when they do
    not; SQNR against the float output always (the floor under every kind, and the only judge of a regression
    output); and agreement between the same model's artifacts in two formats, which must not contradict each
    other.

    `on_bound` gates on the upper end of the drop's 95% paired-bootstrap interval instead of the point value:
    stricter, and a build passes only when the data show its drop is within budget, not merely measured so."""
    checks = []
    for ev in evaluations:
        if ev.user_metric is not None and budget.min_user_metric is not None:
            value, floor = ev.user_metric["value"], budget.min_user_metric
            checks.append(GateCheck(ev.artifact, f"metric:{ev.user_metric['name']}", value, floor, value >= floor))
        elif ev.accuracy_drop_points is not None:
            bound = (ev.statistics or {}).get("drop_interval_points") if on_bound else None
            metric, value = (
                ("accuracy_drop_upper_bound_points", bound[1])
                if bound
                else ("accuracy_drop_points", ev.accuracy_drop_points)
            )
            checks.append(GateCheck(ev.artifact, metric, value, budget.max_drop, value <= budget.max_drop))
        elif (agreement := ev.drift["agreement"]) is not None:
            passed = agreement >= budget.min_agreement
            checks.append(GateCheck(ev.artifact, "agreement", agreement, budget.min_agreement, passed))
        if budget.min_sqnr_db > float("-inf"):
            passed = ev.sqnr_db >= budget.min_sqnr_db  # NaN fails: a broken output carries no signal
            checks.append(GateCheck(ev.artifact, "sqnr_db", ev.sqnr_db, budget.min_sqnr_db, passed))
    for pair in cross_formats:
        value = pair["agreement"]
        if value is None:  # a regression output: the SQNR floor above judges each artifact against float
            continue
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
