"""Whose kernels each artifact's numbers came from, in words: the line a reader needs before trusting an SQNR.

A build made on an AVX2-only x86 machine for a Raspberry Pi is judged on the Pi's own kernels (emulated, or
the exact QDQ arithmetic); its host's numbers are shown beside them and flagged when they differ beyond noise,
so nobody mistakes the build machine's saturation for the model's error (validation/kernels.py).
"""

from __future__ import annotations

from typing import Any

from .report_format import num, pct

SOURCES = {
    "host": "this host's kernels",
    "exact": "exact QDQ arithmetic (ONNX Runtime, fusions off)",
    "emulated": "the target core, emulated",
}


def kernels_text(evaluation: dict[str, Any]) -> str:
    """'numbers from ...' for one artifact; empty for a report written before kernels were recorded."""
    kernels = evaluation.get("kernels")
    if not kernels:
        return ""
    where = SOURCES.get(kernels["source"], kernels["source"])
    if kernels["source"] == "emulated":
        where = f"{kernels['runtime']} on an emulated {kernels['core']}"
        if kernels.get("samples"):  # bounded by the emulation time budget (validation/kernels.py)
            where += f" (first {kernels['samples']} samples: emulation time budget)"
    elif kernels["source"] == "host":
        where = f"this host ({kernels['host_isa']})"
    return f"numbers from {where}"


def host_kernels_text(evaluation: dict[str, Any]) -> str:
    """The host's own numbers for an artifact judged on other kernels, with the divergence flag."""
    row = evaluation.get("host_kernels")
    if not row:
        return ""
    flag = f": {row['note']}" if row["diverges"] else ", agrees"
    return f"this host ({row['isa']}): SQNR {num(row['sqnr_db'])} dB, agreement {pct(row['agreement'])}{flag}"


def kernels_markdown(report: dict[str, Any]) -> list[str]:
    """report.md's section: one row per artifact, target numbers beside the host's."""
    rows = [art for art in report["artifacts"] if art["evaluation"].get("kernels")]
    if not rows:
        return []
    host = report.get("host", {})
    lines = [
        "",
        "## Whose kernels",
        "",
        f"Built on {host.get('model', '?')} ({host.get('family', '?')}; {', '.join(host.get('features', []))}). "
        "The gate judges each artifact on the numbers below; the host's own are shown when they are other kernels.",
        "",
        "| artifact | judged on | SQNR dB | agreement | this host | host SQNR dB | host agreement | diverges |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for art in rows:
        ev, here = art["evaluation"], art["evaluation"].get("host_kernels")
        host_cells = (
            f"{here['runtime']} | {num(here['sqnr_db'])} | {pct(here['agreement'])} | "
            f"{'YES: ' + here['note'] if here['diverges'] else 'no'}"
            if here
            else "same | - | - | -"
        )
        lines.append(
            f"| `{art['file']}` | {kernels_text(ev).removeprefix('numbers from ')} | {num(ev['drift']['sqnr_db'])} | "
            f"{pct(ev['drift']['agreement'])} | {host_cells} |"
        )
    return lines
