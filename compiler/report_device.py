"""Device runs in the report's views: one table of numbers, spelled once, rendered as Markdown, HTML or text.

Each row is one artifact in one device run: how long it took to load and to answer the first time, its warm
latency percentiles and how that compares with the host, its peak memory, whether the fast path ran, and
its accuracy on the device next to the host's on the same bundled samples.
"""

from __future__ import annotations

from typing import Any

from .report_format import num, pct
from .validation.gate import GateCheck

HEAD = [
    "device", "artifact", "runtime", "threads", "load (ms)", "first (ms)", "p50 (ms)", "p90 (ms)", "p99 (ms)",
    "per s", "x host p50", "peak RSS (MiB)", "fast path", "top-1", "host top-1", "vs host agreement",
    "vs host SQNR (dB)",
]  # fmt: skip


def device_table(report: dict[str, Any]) -> tuple[list[str], list[list[str]], list[int]]:
    """(head, rows, indexes of rows that failed a check or did not run)."""
    rows: list[list[str]] = []
    marked: list[int] = []
    for run in report.get("device_runs", []):
        failed = {c["artifact"] for c in run["checks"] if not c["passed"]}
        for art in run["artifacts"]:
            if art["artifact"] in failed:
                marked.append(len(rows))
            rows.append(_row(run["label"], art))
    return HEAD, rows, marked


def _row(label: str, art: dict[str, Any]) -> list[str]:
    if "error" in art:
        return [label, art["artifact"], "did not run: " + art["error"], *[""] * (len(HEAD) - 3)]
    latency, accuracy, kernels = art["latency"], art["accuracy"], art["kernels"]
    versus = art["device_vs_host"]
    fast = "yes" if kernels["fast_path"] else "NO: " + (", ".join(kernels["float_compute_kernels"]) or "no delegate")
    return [
        label,
        art["artifact"],
        art["runtime"],
        str(art["threads"]),
        num(art["load_ms"], 1),
        num(art["first_inference_ms"], 3),
        num(latency["p50_ms"], 3),
        num(latency["p90_ms"], 3),
        num(latency["p99_ms"], 3),
        num(latency["throughput_per_s"], 0),
        num(versus["latency_ratio"], 2),
        num(art["memory"]["peak_rss_bytes"] / 2**20, 1),
        fast,
        pct(accuracy.get("accuracy")),
        pct(accuracy.get("host_accuracy")),
        pct(accuracy["vs_host"]["agreement"]),
        num(accuracy["vs_host"]["sqnr_db"], 1),
    ]


def device_markdown(report: dict[str, Any]) -> list[str]:
    head, rows, _ = device_table(report)
    if not rows:
        return []
    lines = ["## On the device", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    for run in report["device_runs"]:
        verdict = "PASS" if run["passed"] else "FAIL"
        lines += ["", f"Checks for {run['label']}: {verdict}", ""]
        lines += [f"- {check_text(c)}" for c in run["checks"]]
    return [*lines, ""]


def check_text(check: dict[str, Any]) -> str:
    return GateCheck(**check).describe()


def device_summary(run: dict[str, Any]) -> list[str]:
    """Terminal lines for one ingested run."""
    lines = [f"device run on {run['label']} ({run['environment']['cpu']}):"]
    if run["environment"].get("emulated"):
        lines[0] += " emulated: accuracy is the Arm kernels', timings are qemu's and not gated"
    for art in run["artifacts"]:
        if "error" in art:
            lines.append(f"  {art['artifact']}: did not run: {art['error']}")
            continue
        latency, accuracy, versus = art["latency"], art["accuracy"], art["device_vs_host"]
        text = f"  {art['artifact']}: p50 {num(latency['p50_ms'])} ms, p90 {num(latency['p90_ms'])} ms"
        text += f" (x{num(versus['latency_ratio'], 2)} host p50)"
        text += f", peak RSS {art['memory']['peak_rss_bytes'] / 2**20:.1f} MiB"
        text += f", fast path {'yes' if art['kernels']['fast_path'] else 'NO'}"
        if accuracy.get("labels"):
            text += f", top-1 {pct(accuracy['accuracy'])} (host {pct(accuracy['host_accuracy'])})"
        text += f", outputs vs host: {pct(accuracy['vs_host']['identical_fraction'])} identical"
        lines.append(text)
    lines += [f"  {check_text(c)}" for c in run["checks"]]
    lines.append(f"  device checks: {'PASS' if run['passed'] else 'FAIL'}")
    return lines
