"""A sweep's summary: one row per artifact of every job, the Pareto front per target, a table and a plot.

The front is computed on numbers that do not depend on the machine's load (accuracy, size, the cost model's
latency estimate), so two executors give the same front; the measured host p50 is shown beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

Row = dict[str, Any]


def summary_rows(results: list[dict[str, Any]]) -> list[Row]:
    """Flatten job results (in job order) into rows; a failed job is one row with its error."""
    rows: list[Row] = []
    for result in results:
        head = {key: result[key] for key in ("model", "target", "variant", "status")}
        if result["status"] != "ok":
            rows.append({**head, "error": result.get("error", "")})
            continue
        for artifact in result["artifacts"]:
            rows.append({**head, "verdict": result["verdict"], **artifact})
    for target in {row["target"] for row in rows}:
        scored = [r for r in rows if r["target"] == target and r.get("accuracy") is not None]
        for key in FRONTS:
            _mark_front([r for r in scored if r.get(key) is not None], key)
    return rows


FRONTS = {"compressed_bytes": "size, compressed (KiB)", "estimated_latency_ms": "estimated latency (ms)"}


def _mark_front(rows: list[Row], key: str) -> None:
    """A row is on the `key` front when no other row of its target is at least as small in `key` and as
    accurate, and better in one of the two."""
    for row in rows:
        row[f"front:{key}"] = not any(
            other[key] <= row[key]
            and other["accuracy"] >= row["accuracy"]
            and (other[key] < row[key] or other["accuracy"] > row["accuracy"])
            for other in rows
        )


def render_table(rows: list[Row]) -> str:
    lines = [
        "| model | target | variant | artifact | compressed KiB | top-1 | drop (points) | SQNR dB | est. ms | "
        "host p50 ms | verdict | front |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",  # front: s on the size front, l on the latency front
    ]
    for row in rows:
        cell = f"| {row['model']} | {row['target']} | {row['variant']} |"
        if row["status"] != "ok":
            lines.append(f"{cell} failed: {row['error']} | | | | | | | | |")
            continue
        lines.append(
            f"{cell} {row['file']} | {row['compressed_bytes'] / 1024:.1f} | {_num(row['accuracy'], 100, '.2f')} | "
            f"{_num(row['accuracy_drop_points'], 1, '.2f')} | {_num(row['sqnr_db'], 1, '.1f')} | "
            f"{_num(row['estimated_latency_ms'], 1, '.4f')} | {_num(row['host_p50_ms'], 1, '.4f')} | "
            f"{row['verdict']} | {_fronts(row)} |"
        )
    return "\n".join(lines) + "\n"


def _fronts(row: Row) -> str:
    return "".join(mark for mark, key in zip("sl", FRONTS, strict=True) if row.get(f"front:{key}"))


def _num(value: float | None, scale: float, spec: str) -> str:
    return "-" if value is None else format(value * scale, spec)


def plot(rows: list[Row], path: Path) -> None:
    """Per target: top-1 against compressed size and against the estimated latency, each with its front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(r["target"] for r in rows))
    figure, axes = plt.subplots(len(FRONTS), len(targets), figsize=(4.5 * len(targets), 7), squeeze=False)
    for column, target in enumerate(targets):
        points = [r for r in rows if r["target"] == target and r.get("accuracy") is not None]
        for line, (key, label) in enumerate(FRONTS.items()):
            axis, scale = axes[line][column], 1 / 1024 if key == "compressed_bytes" else 1.0
            for row in (r for r in points if r.get(key) is not None):
                x, y = row[key] * scale, 100 * row["accuracy"]
                on_front = row.get(f"front:{key}")
                axis.scatter(
                    x, y, marker="o" if row["runtime"] == "onnxruntime" else "s", color="C0" if on_front else "C7"
                )
                axis.annotate(row["variant"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
            front = sorted((r[key] * scale, 100 * r["accuracy"]) for r in points if r.get(f"front:{key}"))
            if front:
                axis.plot(*zip(*front, strict=True), color="C0", linewidth=1)
            axis.set_xlabel(label)
            axis.set_ylabel("top-1 %")
            if line == 0:
                axis.set_title(target)
    figure.suptitle("sweep: accuracy vs size and vs estimated latency (front in blue; o ONNX, s TFLite)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
