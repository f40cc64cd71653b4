"""How the cost model writes its amounts, the same in messages, `edgec inspect` and report.md."""

from __future__ import annotations


def size_text(nbytes: float) -> str:
    return f"{nbytes / 1024:.1f} KiB" if nbytes < 1024**2 else f"{nbytes / 1024**2:.2f} MiB"


def amount_text(value: float, unit: str) -> str:
    """A budget's amount: milliseconds for latency, a size for bytes."""
    return f"{value:.3g} ms" if unit == "ms" else size_text(value)
