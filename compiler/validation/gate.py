"""The drift gate: each artifact's numbers against the budget, pass or fail, with the numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .evaluate import Evaluation


@dataclass(frozen=True)
class GateCheck:
    artifact: str
    metric: str
    value: float
    limit: float
    passed: bool

    def describe(self) -> str:
        relation = "<=" if self.metric == "accuracy_drop_points" else ">="
        verdict = "ok" if self.passed else "OVER BUDGET"
        return f"{self.artifact}: {self.metric} {self.value:.4g} (budget {relation} {self.limit:g}) {verdict}"


def check(
    evaluations: list[Evaluation],
    max_drop: float,
    min_agreement: float,
    cross_formats: Sequence[dict[str, Any]] = (),
    min_cross_agreement: float = 0.0,
) -> list[GateCheck]:
    """Accuracy drop in points when labels exist; top-1 agreement with the float model when they do not;
    and agreement between the same model's artifacts in two formats, which must not contradict each other."""
    checks = []
    for ev in evaluations:
        if ev.accuracy_drop_points is not None:
            checks.append(
                GateCheck(
                    ev.artifact,
                    "accuracy_drop_points",
                    ev.accuracy_drop_points,
                    max_drop,
                    ev.accuracy_drop_points <= max_drop,
                )
            )
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
