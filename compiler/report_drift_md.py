"""report.md's drift section: how sure each artifact's accuracy numbers are, and which samples moved.

What "moved" means follows the output's kind (runtimes/output_kinds.py): a changed class or thresholded
decision per sample, changed positions per sample for a sequence, nothing for a regression output (its SQNR
and worst samples say it all)."""

from __future__ import annotations

from typing import Any

from .report_format import num
from .report_trace_md import trace_lines

FLIPS_SHOWN = 10


def drift_lines(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for art in report["artifacts"]:
        stats = art["evaluation"].get("statistics")
        if not stats:
            continue
        lines += ["", f"## Drift in `{art['file']}`", ""]
        lines += _accuracy_lines(art["evaluation"], stats)
        lines += _flip_table(stats["flips"])
        worst = ", ".join(f"{w['index']} (rmse {w['rmse']:.3g})" for w in stats["worst"][:5])
        lines += ["", f"Outputs that moved most: {worst}."]
        lines += trace_lines(art)
    return lines


def _accuracy_lines(evaluation: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    flips = stats["flips"]
    if "drop_interval_points" not in stats:
        if flips is None:
            return [
                f"No decisions to compare (a regression output): judged by SQNR, {evaluation['drift']['sqnr_db']} dB."
            ]
        return [f"{flips['count']} prediction(s) differ from the float model's (no labels)."]
    low, high = stats["drop_interval_points"]
    acc_low, acc_high = stats["accuracy_interval"]
    moved = f"{flips['count']} prediction(s) flipped"
    if "broken" in flips:
        moved += f": {flips['broken']} became wrong, {flips['fixed']} right"
    lines = [
        f"Accuracy {100 * evaluation['accuracy']:.2f}% ({100 * stats['level']:.0f}% interval "
        f"{100 * acc_low:.2f}-{100 * acc_high:.2f}%); drop {evaluation['accuracy_drop_points']:.2f} "
        f"points (paired interval {low:.2f} to {high:.2f}; {stats['resamples']} bootstrap resamples). {moved}."
    ]
    changed = [row for row in stats.get("per_class", []) if row["delta_points"]]
    if changed:
        lines += ["", "| class | samples | float | artifact | delta (points) |", "|---|---|---|---|---|"]
        lines += [
            f"| {row['class']} | {row['samples']} | {100 * row['float_accuracy']:.2f}% | "
            f"{100 * row['accuracy']:.2f}% | {row['delta_points']:+.2f} |"
            for row in sorted(changed, key=lambda r: r["delta_points"])
        ]
    return lines


def _flip_table(flips: dict[str, Any] | None) -> list[str]:
    if not flips or not flips["listed"]:
        return []
    shown = flips["listed"][:FLIPS_SHOWN]
    if "positions_changed" in shown[0]:  # a sequence: how many positions of each sample decide differently
        rows = [f"| {f['index']} | {f['positions_changed']} of {f['positions']} |" for f in shown]
        return ["", "| sample | positions changed |", "|---|---|", *rows]
    rows = [
        f"| {f['index']} | {f['float_label']} | {f['artifact_label']} | "
        f"{'-' if f['label'] is None else f['label']} | {num(f['confidence'])} |"
        for f in shown
    ]
    return ["", "| sample | float says | artifact says | label | artifact confidence |", "|---|---|---|---|---|", *rows]
