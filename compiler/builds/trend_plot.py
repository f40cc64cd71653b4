"""The trend plot of one target: median latency and top-1 over time, host builds and device runs, drift marked.

Kept apart from trend.py so that reading the history (and `edgec builds show` without --plot) never imports
matplotlib.
"""

from __future__ import annotations

from datetime import datetime

from ..report_plots import png, pyplot
from .trend import Drift, Series


def trend_png(target: str, series: list[Series], flagged: list[Drift]) -> bytes:
    """Two panels sharing the time axis; each series one line, each drifting step's end circled in red."""
    plt = pyplot()
    figure, (latency, accuracy) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for one in series:
        style = "o-" if one.kind == "host" else "s--"
        times = [datetime.fromtimestamp(p.time) for p in one.points]
        latency.plot(times, [p.p50_ms for p in one.points], style, label=one.name)
        accuracy.plot(times, [None if p.top1 is None else 100 * p.top1 for p in one.points], style, label=one.name)
    for drift in flagged:
        when = datetime.fromtimestamp(drift.after.time)
        if drift.metric == "latency":
            panel, value = latency, drift.after.p50_ms
        else:
            panel, value = accuracy, 100 * (drift.after.top1 or 0.0)
        panel.plot([when], [value], "o", markersize=14, markerfacecolor="none", markeredgecolor="red")
    latency.set_ylabel("median latency (ms)")
    accuracy.set_ylabel("top-1 (%)")
    latency.set_title(f"{target}: host builds and device runs ({len(flagged)} drift step(s) circled)")
    latency.legend(fontsize="small")
    figure.autofmt_xdate()
    return png(figure)
