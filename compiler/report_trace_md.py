"""report.md's trace section, and the one line a failed compile prints: which pass cost the drift, and where
along the graph int8 parts from float."""

from __future__ import annotations

from typing import Any

from .report_format import num, pct, signed

LAYERS_SHOWN = 16


def trace_lines(art: dict[str, Any]) -> list[str]:
    trace = art.get("trace")
    if not trace:
        return []
    lines = [
        "",
        f"### Where the drift in `{art['file']}` comes from",
        "",
        "| stage | runtime | accuracy | drop (points) | this step (points) | agreement | SQNR (dB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in trace["passes"]:
        lines.append(
            f"| {row['stage']} | {row['runtime']} | {pct(row['accuracy'])} | "
            f"{num(row['drop_points'], 2)} | {signed(row['step_points'])} | {pct(row['agreement'])} | "
            f"{num(row['sqnr_db'], 2)} |"
        )
    layers = trace.get("layers")
    if layers:
        first = layers["first_diverging"]
        where = f"against {layers['against']} ({layers['samples']} samples)"
        lines += ["", f"Per-layer SQNR of the int8 activations {where}."]
        if first:
            lines[-1] += f" The first diverging layer is `{first['tensor']}` ({first['op']}, {first['sqnr_db']:.1f} dB)"
            lines[-1] += f": {first['rule']}."
        lines += ["", "| # | tensor | op | SQNR (dB) |", "|---|---|---|---|"]
        lines += [
            f"| {i} | `{row['tensor'][:60]}` | {row['op']} | {row['sqnr_db']:.1f} |"
            for i, row in enumerate(layers["tensors"][:LAYERS_SHOWN])
        ]
        if len(layers["tensors"]) > LAYERS_SHOWN:
            lines.append(f"| ... | {len(layers['tensors']) - LAYERS_SHOWN} more in report.json | | |")
    return lines


def traced_summary(art: dict[str, Any]) -> str | None:
    """One line: each numeric step's share of the drop, and the diverging layer."""
    trace = art.get("trace")
    if not trace:
        return None
    steps = ", ".join(f"{row['stage']} {signed(row['step_points'])}" for row in trace["passes"])
    text = f"  traced {art['name']}: drop by step (points): {steps}"
    first = (trace.get("layers") or {}).get("first_diverging")
    if first:
        text += f"; first diverging layer {first['tensor'][:60]} ({first['op']}, {first['sqnr_db']:.1f} dB)"
    return text
