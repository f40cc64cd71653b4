"""The prune search's curve as a PNG (`prune_curve.png` in the build folder).

Drawn by the report layer from the search's result, so the search itself never imports plotting: it
measures, and what is shown of it is decided up here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .report_plots import png, pyplot

if TYPE_CHECKING:
    from .prune_search import PruneSearch


def plot_curve(found: PruneSearch) -> bytes:
    """Drift and latency against the amount pruned, the budget drawn in, the chosen amount marked: a PNG."""
    points = sorted(found.curve, key=lambda p: p.amount)
    amounts = [p.amount for p in points]
    figure, (drift_axis, latency_axis, size_axis) = pyplot().subplots(1, 3, figsize=(12, 3.4), dpi=100)
    if all(p.accuracy_drop_points is not None for p in points):
        drift_axis.plot(amounts, [p.accuracy_drop_points for p in points], "o-", label="top-1 drop (points)")
        drift_axis.axhline(found.budget["max_accuracy_drop_points"], color="red", linestyle="--", label="budget")
        drift_axis.set_ylabel("accuracy drop vs float (points)")
    elif all(p.agreement is not None for p in points):
        drift_axis.plot(amounts, [100 * (p.agreement or 0.0) for p in points], "o-", label="agreement (%)")
        drift_axis.axhline(100 * (found.budget["min_agreement"] or 0.0), color="red", linestyle="--", label="budget")
        drift_axis.set_ylabel("agreement with float (%)")
    else:  # a regression output: no decisions to agree on
        drift_axis.plot(amounts, [p.sqnr_db for p in points], "o-", label="output SQNR (dB)")
        drift_axis.axhline(found.budget["min_sqnr_db"], color="red", linestyle="--", label="budget")
        drift_axis.set_ylabel("output SQNR vs float (dB)")
    latency_axis.plot(amounts, [p.latency_p50_ms for p in points], "o-")
    latency_axis.set_ylabel(f"{found.measured_on} p50 latency (ms)")
    size_axis.plot(amounts, [p.size_bytes / 1024 for p in points], "o-", label="file")
    size_axis.plot(amounts, [p.compressed_bytes / 1024 for p in points], "s-", label="zlib-compressed")
    size_axis.set_ylabel("artifact size (KiB)")
    size_axis.legend(fontsize=8)
    for axis in (latency_axis, size_axis):
        axis.set_ylim(bottom=0)  # from zero: run-to-run noise must not look like a trend
    for axis in (drift_axis, latency_axis, size_axis):
        axis.set_xlabel(found.option)
        axis.grid(alpha=0.3)
        if found.chosen is not None:
            axis.axvline(found.chosen, color="green", alpha=0.6, label=f"chosen {found.chosen:g}")
    drift_axis.legend(fontsize=8)
    figure.suptitle(f"--prune {found.request}: int8 {found.measured_on}", fontsize=10)
    return png(figure, dpi=100)
