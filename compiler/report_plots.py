"""The report's plots as PNG bytes, drawn from report.json alone (so `report.html` can be re-rendered from it).

Each function returns None when the report holds nothing to draw (no labels, no int8 artifact, no latency).
"""

from __future__ import annotations

import io
from typing import Any

DPI = 80


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend: build machines have no display."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def png(figure: Any, dpi: int = DPI) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=dpi)
    pyplot().close(figure)
    return buffer.getvalue()


def layer_error(report: dict[str, Any]) -> bytes | None:
    """SQNR of every int8 activation along the graph, the divergence threshold drawn, the diverging layer marked."""
    traced = [(a["name"], a["trace"]["layers"]) for a in report["artifacts"] if (a.get("trace") or {}).get("layers")]
    if not traced:
        return None
    figure, axis = pyplot().subplots(figsize=(9, 3.6))
    for name, layers in traced:
        values = [row["sqnr_db"] for row in layers["tensors"]]
        axis.plot(range(len(values)), values, "o-", label=name)
        first = layers["first_diverging"]
        if first:
            index = next(i for i, row in enumerate(layers["tensors"]) if row["tensor"] == first["tensor"])
            axis.plot([index], [first["sqnr_db"]], "o", color="red", markersize=12, fillstyle="none")
    axis.axhline(traced[0][1]["threshold_db"], color="red", linestyle="--", label="divergence threshold")
    axis.set_xlabel("activation tensor, in execution order")
    axis.set_ylabel("SQNR vs float (dB)")
    axis.set_ylim(bottom=0)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return png(figure)


def pass_drift(report: dict[str, Any]) -> bytes | None:
    """Cumulative top-1 drop (agreement without labels) after each numeric stage, per artifact."""
    traced = [(a["name"], a["trace"]["passes"]) for a in report["artifacts"] if (a.get("trace") or {}).get("passes")]
    if not traced:
        return None
    rows_all = [row for _, rows in traced for row in rows]
    key, label = _quality(rows_all, "drop_points", "agreement")
    figure, axes = pyplot().subplots(1, len(traced), figsize=(4.5 * len(traced), 3.4), squeeze=False)
    for axis, (name, rows) in zip(axes[0], traced, strict=True):
        values = [row[key] * (100 if key == "agreement" else 1) for row in rows]
        axis.bar(range(len(rows)), values, color="tab:blue")
        axis.set_xticks(range(len(rows)), [row["stage"] for row in rows], rotation=20, fontsize=8)
        axis.set_title(name, fontsize=10)
        axis.set_ylabel(label.replace("top-1", "top-1 drop vs float") if key == "drop_points" else label)
        axis.grid(alpha=0.3, axis="y")
    return png(figure)


def _quality(rows: list[dict[str, Any]], labelled_key: str, agreement_key: str) -> tuple[str, str]:
    """Which number to plot for rows of one build: top-1 with labels, else agreement with the float model's
    decisions, else (a regression output, no decisions) the output SQNR. Returns (key, axis label)."""
    if all(row[labelled_key] is not None for row in rows):
        return labelled_key, "top-1 (%)" if labelled_key == "accuracy" else "top-1 (points)"
    if all(row[agreement_key] is not None for row in rows):
        return agreement_key, "agreement with float (%)"
    return "sqnr_db", "output SQNR vs float (dB)"


def tradeoffs(report: dict[str, Any]) -> bytes | None:
    """Accuracy (with its 95% interval) against file size and against host latency, one point per artifact."""
    artifacts = report["artifacts"]
    if not artifacts:
        return None
    rows = [{**a["evaluation"]["drift"], "accuracy": a["evaluation"]["accuracy"]} for a in artifacts]
    key, label = _quality(rows, "accuracy", "agreement")
    labelled = key == "accuracy"
    figure, (size_axis, latency_axis) = pyplot().subplots(1, 2, figsize=(9, 3.4))
    for art in artifacts:
        value, error = _accuracy(art["evaluation"], key)
        size_axis.errorbar(art["size_bytes"] / 1024, value, yerr=error, fmt="o", capsize=3, label=art["name"])
        latency = art.get("latency")
        if latency:
            latency_axis.errorbar(latency["p50_ms"], value, yerr=error, fmt="o", capsize=3, label=art["name"])
    if labelled and report["baseline"].get("accuracy") is not None:
        size_axis.plot(
            report["baseline"]["size_bytes"] / 1024, 100 * report["baseline"]["accuracy"], "k*", label="float"
        )
    size_axis.set_xlabel("file size (KiB)")
    latency_axis.set_xlabel("host p50 latency, batch 1 (ms)")
    for axis in (size_axis, latency_axis):
        axis.set_ylabel(label)
        axis.set_xlim(0, 1.15 * axis.get_xlim()[1])  # from zero, with room for the rightmost point
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return png(figure)


def _accuracy(evaluation: dict[str, Any], key: str) -> tuple[float, Any]:
    if key != "accuracy":
        value = evaluation["drift"][key]
        return (100 * value if key == "agreement" else value), None
    interval = (evaluation.get("statistics") or {}).get("accuracy_interval")
    value = 100 * evaluation["accuracy"]
    if not interval:
        return value, None
    return value, [[value - 100 * interval[0]], [100 * interval[1] - value]]


def confusion_deltas(report: dict[str, Any]) -> bytes | None:
    """Artifact minus float confusion matrix per artifact: red cells lost samples, blue cells gained them."""
    found = [
        (a["name"], matrix)
        for a in report["artifacts"]
        if (matrix := (a["evaluation"].get("statistics") or {}).get("confusion_delta"))
    ]
    if not found:
        return None
    figure, axes = pyplot().subplots(1, len(found), figsize=(4.2 * len(found), 3.9), squeeze=False)
    for axis, (name, matrix) in zip(axes[0], found, strict=True):
        delta, classes = matrix["delta"], matrix["classes"]
        limit = max(1, max(abs(v) for row in delta for v in row))
        axis.imshow(delta, cmap="coolwarm_r", vmin=-limit, vmax=limit)
        for i, row in enumerate(delta):
            for j, value in enumerate(row):
                if value:
                    axis.text(j, i, f"{value:+d}", ha="center", va="center", fontsize=7)
        axis.set_xticks(range(len(classes)), classes, fontsize=7)
        axis.set_yticks(range(len(classes)), classes, fontsize=7)
        axis.set_xlabel("predicted class")
        axis.set_ylabel("true class")
        axis.set_title(f"{name}: artifact - float", fontsize=10)
    return png(figure)


def latency_distribution(report: dict[str, Any]) -> bytes | None:
    """Every timed run per artifact, on the host and on each device, as a box plot over the raw samples."""
    series = [
        (f"{a['name']} ({a['latency']['where']})", a["latency"]["samples_ms"])
        for a in report["artifacts"]
        if a.get("latency")
    ]
    series += [
        (f"{a['artifact']} (device {run['label']})", a["latency"]["samples_ms"])
        for run in report.get("device_runs", [])
        for a in run["artifacts"]
        if "latency" in a
    ]
    if not series:
        return None
    figure, axis = pyplot().subplots(figsize=(9, 0.7 * len(series) + 1.4))
    axis.boxplot([samples for _, samples in series], orientation="horizontal", showfliers=True)
    axis.set_yticks(range(1, len(series) + 1), [label for label, _ in series], fontsize=8)
    axis.set_xlabel("latency per batch-1 inference (ms)")
    axis.set_xlim(left=0)
    axis.grid(alpha=0.3, axis="x")
    return png(figure)


PLOTS = (
    ("Per-layer error along the graph", layer_error),
    ("Drift added by each step", pass_drift),
    ("Accuracy vs size and latency", tradeoffs),
    ("Confusion deltas", confusion_deltas),
    ("Latency distribution", latency_distribution),
)
