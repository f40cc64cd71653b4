"""Two builds' reports compared: what changed per artifact, and whether it is a regression beyond noise.

A CI gate on accuracy must not trip on noise: two evaluations of 360 images differ by a point for one or two
flipped answers. So an accuracy fall counts as a regression only when it is larger than the allowed drop
*and* larger than its own noise: 1.96 standard errors of the difference, each side's standard error read from
its report's bootstrap interval (95%: the interval is about 2 x 1.96 standard errors wide). When both builds were
judged on the same evaluation data the difference is paired in truth and the test is conservative.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .report import SCHEMA_VERSION
from .validation.gate import GateCheck

Z_95 = 1.96


@dataclass
class ArtifactChange:
    artifact: str
    base_accuracy: float | None
    new_accuracy: float | None
    change_points: float | None  # new minus base, in points
    noise_points: float | None  # 1.96 standard errors of that difference
    base_size_bytes: int
    new_size_bytes: int
    regression: bool
    reason: str


@dataclass
class ReportDiff:
    base: str
    new: str
    max_drop: float
    same_evaluation_data: bool
    changes: list[ArtifactChange]
    missing: list[str]  # artifacts the base has and the new build lacks

    @property
    def regressed(self) -> bool:
        return bool(self.missing) or any(c.regression for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "regressed": self.regressed}


def load_report(location: Path) -> dict[str, Any]:
    """A build folder's report.json, or a report.json path; refuses what is not an edgec report it can read."""
    path = location / "report.json" if location.is_dir() else location
    if not path.is_file():
        raise InputError(f"{location}: no report.json there; give a build folder or its report.json")
    try:
        report = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); give an edgec report.json") from None
    if not isinstance(report, dict) or "artifacts" not in report or "schema_version" not in report:
        raise InputError(f"{path}: not an edgec report (no schema_version/artifacts)")
    if str(report["schema_version"]).split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise InputError(
            f"{path}: report schema {report['schema_version']} cannot be compared with this edgec's "
            f"{SCHEMA_VERSION}; rebuild it with this version"
        )
    return report


def _standard_error(evaluation: dict[str, Any]) -> float | None:
    interval = (evaluation.get("statistics") or {}).get("accuracy_interval")
    return None if not interval else 100 * (interval[1] - interval[0]) / (2 * Z_95)


def diff_reports(base: dict[str, Any], new: dict[str, Any], max_drop: float, names: tuple[str, str]) -> ReportDiff:
    """Compare `new` with `base` artifact by artifact (matched by artifact name, e.g. onnx, tflite)."""
    new_artifacts = {a["name"]: a for a in new["artifacts"]}
    changes, missing = [], []
    for old in base["artifacts"]:
        current = new_artifacts.get(old["name"])
        if current is None:
            missing.append(old["name"])
            continue
        changes.append(_change(old, current, max_drop))
    same = base["data"]["evaluation"].get("sha256") == new["data"]["evaluation"].get("sha256")
    return ReportDiff(names[0], names[1], max_drop, same, changes, missing)


def _change(old: dict[str, Any], current: dict[str, Any], max_drop: float) -> ArtifactChange:
    base_accuracy, new_accuracy = old["evaluation"]["accuracy"], current["evaluation"]["accuracy"]
    change = noise = None
    regression, reason = False, "no labels: accuracy not compared"
    if base_accuracy is not None and new_accuracy is not None:
        change = round(100 * (new_accuracy - base_accuracy), 4)
        base_error, new_error = _standard_error(old["evaluation"]), _standard_error(current["evaluation"])
        known = base_error is not None and new_error is not None
        noise = round(Z_95 * math.hypot(base_error or 0.0, new_error or 0.0), 4) if known else None
        fall = -change
        if fall > max_drop and noise is None:
            regression, reason = True, f"top-1 fell {fall:.2f} points (noise unknown: a report without intervals)"
        elif fall > max_drop and fall > noise:
            regression, reason = True, f"top-1 fell {fall:.2f} points: over the allowed {max_drop:g} and the noise"
        elif fall > max_drop:
            reason = f"top-1 fell {fall:.2f} points, within noise (+/-{noise:.2f})"
        else:
            reason = "within the allowed drop"
    return ArtifactChange(
        old["name"],
        base_accuracy,
        new_accuracy,
        change,
        noise,
        old["size_bytes"],
        current["size_bytes"],
        regression,
        reason,
    )


def regression_checks(found: ReportDiff) -> list[GateCheck]:
    """The comparison as gate checks (`compile --baseline`): one per artifact with labels, one per missing one."""
    checks = [
        GateCheck(c.artifact, "top1_change_vs_baseline_points", c.change_points, -found.max_drop, not c.regression)
        for c in found.changes
        if c.change_points is not None
    ]
    return checks + [GateCheck(name, "present_in_baseline", 0.0, 1.0, False) for name in found.missing]


def render_diff(found: ReportDiff) -> str:
    lines = [
        f"edgec: report diff {found.base} -> {found.new} (allowed drop {found.max_drop:g} points)",
        "| artifact | base top-1 | new top-1 | change (points) | noise (+/- points) | size | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in found.changes:
        size = f"{c.base_size_bytes / 1024:.1f} -> {c.new_size_bytes / 1024:.1f} KiB"
        lines.append(
            f"| {c.artifact} | {_pct(c.base_accuracy)} | {_pct(c.new_accuracy)} | {_signed(c.change_points)} | "
            f"{_signed(c.noise_points, sign=False)} | {size} | {'REGRESSION' if c.regression else 'ok'}: {c.reason} |"
        )
    lines += [
        f"| {name} | | missing | | | | REGRESSION: the new build has no such artifact |" for name in found.missing
    ]
    if not found.same_evaluation_data:
        lines.append("note: the two builds were evaluated on different data; the change mixes model and data")
    lines.append(f"verdict: {'REGRESSION' if found.regressed else 'no regression'}")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _signed(value: float | None, sign: bool = True) -> str:
    return "-" if value is None else (f"{value:+.2f}" if sign else f"{value:.2f}")
