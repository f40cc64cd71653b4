"""How the report's views (report.md, report.html, the terminal) spell numbers, so they agree with each other."""

from __future__ import annotations

from typing import Any


def pct(value: float | None) -> str:
    """A fraction as a percentage; '-' when there is none (no labels)."""
    return "-" if value is None else f"{100 * value:.2f}%"


def num(value: Any, digits: int = 3) -> str:
    """A number to `digits` places; strings (report.json's 'inf') as they are; '-' for None."""
    if value is None:
        return "-"
    return str(value) if isinstance(value, str) else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def streamed_text(entry: dict[str, Any]) -> str:
    """How a sequence was run: step by step, each model on its own recurrent states (streaming.py)."""
    states = entry.get("streamed_states") or []
    if not states:
        return ""
    pairs = ", ".join(f"output {index} -> {name}" for index, name in states)
    return f", streamed step by step on each model's own state ({pairs})"
