"""Two builds' reports compared: what changed per artifact, and whether it is a regression beyond noise.

A CI gate on accuracy must not trip on noise: two evaluations of 360 images differ by a point for one or two
flipped answers. So an accuracy fall counts as a regression only when it is larger than the allowed drop
*and* larger than its own noise: 1.96 standard errors of the difference, each side's standard error read from
its report's bootstrap interval (95%: the interval is about 2 x 1.96 standard errors wide). When both builds were
judged on the same evaluation data the difference is paired in truth and the test is conservative.

Latency follows the same rule with `--max-latency-increase Y`: the host median must rise by more than Y% *and*
by more than 1.96 standard errors of the difference of medians (each estimated from its run's quartiles).
Latencies measured on different CPUs or thread counts are shown but never gated: they compare machines.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .report import SCHEMA_VERSION
from .report_format import num, pct, signed
from .report_schema import check_report
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
    base_p50_ms: float | None = None
    new_p50_ms: float | None = None
    latency_change_percent: float | None = None
    latency_noise_percent: float | None = None  # 1.96 standard errors of the medians' difference, in % of base
    latency_regression: bool = False
    latency_reason: str = "no latency in one of the reports"


@dataclass
class ReportDiff:
    base: str
    new: str
    max_drop: float
    max_latency_increase: float | None  # percent; None: latency is reported, not gated
    same_evaluation_data: bool
    changes: list[ArtifactChange]
    missing: list[str]  # artifacts the base has and the new build lacks
    # what makes the comparison itself doubtful (other targets, a build that failed its own gate): printed first
    warnings: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return bool(self.missing) or any(c.regression or c.latency_regression for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "regressed": self.regressed}


def load_report(location: Path) -> dict[str, Any]:
    """A build folder's report.json, or a report.json path; refuses what is not an edgec report it can read."""
    path = location / "report.json" if location.is_dir() else location
    if not path.is_file():
        raise InputError(f"{location}: no report.json there; give a build folder or its report.json")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad UTF-8 or JSON, an integer too long
        raise InputError(f"{path}: not valid JSON ({exc}); give an edgec report.json") from None
    if not isinstance(report, dict) or "artifacts" not in report or "schema_version" not in report:
        raise InputError(f"{path}: not an edgec report (no schema_version/artifacts)")
    if str(report["schema_version"]).split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise InputError(
            f"{path}: report schema {report['schema_version']} cannot be compared with this edgec's "
            f"{SCHEMA_VERSION}; rebuild it with this version"
        )
    if report["schema_version"] == SCHEMA_VERSION:
        check_report(report, str(path))
    return report


def _standard_error(evaluation: dict[str, Any]) -> float | None:
    interval = (evaluation.get("statistics") or {}).get("accuracy_interval")
    return None if not interval else 100 * (interval[1] - interval[0]) / (2 * Z_95)


def diff_reports(
    base: dict[str, Any],
    new: dict[str, Any],
    max_drop: float,
    names: tuple[str, str],
    max_latency_increase: float | None = None,
) -> ReportDiff:
    """Compare `new` with `base` artifact by artifact (matched by artifact name, e.g. onnx, tflite)."""
    new_artifacts = {a["name"]: a for a in new["artifacts"]}
    changes, missing = [], []
    for old in base["artifacts"]:
        current = new_artifacts.get(old["name"])
        if current is None:
            missing.append(old["name"])
            continue
        changes.append(_with_latency(_change(old, current, max_drop), old, current, max_latency_increase))
    same = base["data"]["evaluation"].get("sha256") == new["data"]["evaluation"].get("sha256")
    warnings = _doubts(base, new, names)
    return ReportDiff(names[0], names[1], max_drop, max_latency_increase, same, changes, missing, warnings)


def _doubts(base: dict[str, Any], new: dict[str, Any], names: tuple[str, str]) -> list[str]:
    """What the verdict cannot see: a silent comparison across targets, or against a build that failed its own
    gate, reads as "no regression" for a build nobody should ship."""
    doubts = []
    targets = [report.get("target", {}).get("id") for report in (base, new)]
    if targets[0] != targets[1]:
        doubts.append(
            f"the builds are for different targets ({targets[0]} -> {targets[1]}): artifacts of one name differ in "
            "kind and budget there, so the change mixes targets and models; compare builds of one target"
        )
    for side, name, report in (("base", names[0], base), ("new", names[1], new)):
        if report.get("gate", {}).get("passed") is False:
            doubts.append(
                f"the {side} build {name} failed its own gate (its report.md says why)"
                + ("; no regression against it does not make the new build good" if side == "base" else "")
            )
    return doubts


def _change(old: dict[str, Any], current: dict[str, Any], max_drop: float) -> ArtifactChange:
    base_accuracy, new_accuracy = old["evaluation"]["accuracy"], current["evaluation"]["accuracy"]
    change = noise = None
    regression, reason = False, "no labels: accuracy not compared"
    damaged = [
        f"{which} top-1 is {value!r}"
        for which, value in (("base", base_accuracy), ("new", new_accuracy))
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value))
    ]
    if damaged:  # NaN compares false with everything: it would pass every check below
        regression, reason = True, f"{' and '.join(damaged)}, not a number: the report is damaged, rebuild it"
    elif base_accuracy is not None and new_accuracy is not None:
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


def _with_latency(
    change: ArtifactChange, old: dict[str, Any], current: dict[str, Any], max_increase: float | None
) -> ArtifactChange:
    """Add the host-latency comparison; gated only with `max_increase` and only between like machines."""
    before, after = old.get("latency"), current.get("latency")
    if not before or not after:
        return change
    change.base_p50_ms, change.new_p50_ms = before["p50_ms"], after["p50_ms"]
    rise = 100 * (after["p50_ms"] - before["p50_ms"]) / before["p50_ms"]
    noise = 100 * Z_95 * math.hypot(_median_error(before), _median_error(after)) / before["p50_ms"]
    change.latency_change_percent, change.latency_noise_percent = round(rise, 2), round(noise, 2)
    like = all(before.get(k) == after.get(k) for k in ("cpu", "threads", "runtime"))
    if not like:
        change.latency_reason = "measured on a different CPU, thread count or runtime: not gated"
    elif max_increase is None:
        change.latency_reason = "not gated (no --max-latency-increase)"
    elif rise > max_increase and rise > noise:
        change.latency_regression = True
        change.latency_reason = f"median rose {rise:.1f}%: over the allowed {max_increase:g}% and the noise"
    elif rise > max_increase:
        change.latency_reason = f"median rose {rise:.1f}%, within noise (+/-{noise:.1f}%)"
    else:
        change.latency_reason = "within the allowed increase"
    return change


def _median_error(latency: dict[str, Any]) -> float:
    """Standard error of a sample median: 1.2533 sigma / sqrt(n), sigma estimated robustly from the quartiles
    (a latency distribution has a long tail the standard deviation would overweight)."""
    sigma = (latency["p75_ms"] - latency["p25_ms"]) / 1.349
    return 1.2533 * sigma / math.sqrt(latency["n"])


def regression_checks(found: ReportDiff) -> list[GateCheck]:
    """The comparison as gate checks (`compile --baseline`): one per artifact with labels, one per missing one."""
    checks = [
        GateCheck(c.artifact, "top1_change_vs_baseline_points", c.change_points, -found.max_drop, not c.regression)
        for c in found.changes
        if c.change_points is not None
    ]
    checks += [  # a damaged report (NaN top-1): no number to gate, and never a pass
        GateCheck(c.artifact, "top1_is_a_number_in_both_reports", 0.0, 1.0, False)
        for c in found.changes
        if c.change_points is None and c.regression
    ]
    if found.max_latency_increase is not None:
        checks += [
            GateCheck(
                c.artifact,
                "p50_latency_change_vs_baseline_percent",
                c.latency_change_percent,
                found.max_latency_increase,
                not c.latency_regression,
            )
            for c in found.changes
            if c.latency_change_percent is not None
        ]
    return checks + [GateCheck(name, "present_in_baseline", 0.0, 1.0, False) for name in found.missing]


def render_diff(found: ReportDiff) -> str:
    lines = [
        f"edgec: report diff {found.base} -> {found.new} (allowed drop {found.max_drop:g} points, latency "
        + ("not gated)" if found.max_latency_increase is None else f"+{found.max_latency_increase:g}% allowed)"),
        "| artifact | base top-1 | new top-1 | change (points) | noise (+/- points) | size | host p50 | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines[1:1] = [f"warning: {warning}" for warning in found.warnings]
    for c in found.changes:
        size = f"{c.base_size_bytes / 1024:.1f} -> {c.new_size_bytes / 1024:.1f} KiB"
        verdict = f"{'REGRESSION' if c.regression else 'ok'}: {c.reason}"
        if c.latency_change_percent is not None:
            verdict += f"; latency {'REGRESSION' if c.latency_regression else 'ok'}: {c.latency_reason}"
        lines.append(
            f"| {c.artifact} | {pct(c.base_accuracy)} | {pct(c.new_accuracy)} | {signed(c.change_points)} | "
            f"{num(c.noise_points, 2)} | {size} | {_latency(c)} | {verdict} |"
        )
    lines += [
        f"| {name} | | missing | | | | | REGRESSION: the new build has no such artifact |" for name in found.missing
    ]
    if not found.same_evaluation_data:
        lines.append("note: the two builds were evaluated on different data; the change mixes model and data")
    lines.append(f"verdict: {'REGRESSION' if found.regressed else 'no regression'}")
    return "\n".join(lines)


def _latency(change: ArtifactChange) -> str:
    if change.latency_change_percent is None:
        return "-"
    return (
        f"{change.base_p50_ms:.3f} -> {change.new_p50_ms:.3f} ms ({change.latency_change_percent:+.1f}% "
        f"+/-{change.latency_noise_percent:.1f}%)"
    )
