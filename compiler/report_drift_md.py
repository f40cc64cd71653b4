"""report.md's drift section: how sure each artifact's accuracy numbers are, and which samples moved."""

from __future__ import annotations

from typing import Any

from .report_trace_md import trace_lines

FLIPS_SHOWN = 10


def drift_lines(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for art in report["artifacts"]:
        stats = art["evaluation"].get("statistics")
        if not stats:
            continue
        flips = stats["flips"]
        lines += ["", f"## Drift in `{art['file']}`", ""]
        if "drop_interval_points" in stats:
            low, high = stats["drop_interval_points"]
            acc_low, acc_high = stats["accuracy_interval"]
            lines.append(
                f"Top-1 {100 * art['evaluation']['accuracy']:.2f}% ({100 * stats['level']:.0f}% interval "
                f"{100 * acc_low:.2f}-{100 * acc_high:.2f}%); drop {art['evaluation']['accuracy_drop_points']:.2f} "
                f"points (paired interval {low:.2f} to {high:.2f}; {stats['resamples']} bootstrap resamples). "
                f"{flips['count']} prediction(s) flipped: {flips['broken']} became wrong, {flips['fixed']} right."
            )
            moved = [row for row in stats["per_class"] if row["delta_points"]]
            if moved:
                lines += ["", "| class | samples | float | artifact | delta (points) |", "|---|---|---|---|---|"]
                lines += [
                    f"| {row['class']} | {row['samples']} | {100 * row['float_accuracy']:.2f}% | "
                    f"{100 * row['accuracy']:.2f}% | {row['delta_points']:+.2f} |"
                    for row in sorted(moved, key=lambda r: r["delta_points"])
                ]
        else:
            lines.append(f"{flips['count']} prediction(s) differ from the float model's (no labels).")
        if flips["listed"]:
            lines += [
                "",
                "| sample | float says | artifact says | label | artifact confidence |",
                "|---|---|---|---|---|",
            ]
            lines += [
                f"| {f['index']} | {f['float_label']} | {f['artifact_label']} | "
                f"{'-' if f['label'] is None else f['label']} | {f['confidence']:.3f} |"
                for f in flips["listed"][:FLIPS_SHOWN]
            ]
        worst = ", ".join(f"{w['index']} (rmse {w['rmse']:.3g})" for w in stats["worst"][:5])
        lines += ["", f"Outputs that moved most: {worst}."]
        lines += trace_lines(art)
    return lines
