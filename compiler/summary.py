"""The few lines `edgec compile` and `edgec report show` print: where the build is, what it cost, whether it
passed, and how sure each accuracy number is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import clip
from .report import stages, verification_text
from .report_format import streamed_text
from .report_kernels import host_kernels_text, kernels_text
from .report_trace_md import traced_summary


def failed_checks(checks: list[dict[str, Any]]) -> str:
    """The failed checks of a report's gate, with their numbers: the one line a command that exits 1 ends
    with, so a CI log says why without opening the report."""
    from .validation.gate import GateCheck

    return "; ".join(GateCheck(**check).describe() for check in checks if not check["passed"])


def summarize(report: dict[str, Any], path: Path) -> str:
    baseline, data = report["baseline"], report["data"]["evaluation"]
    verdict = "PASS" if report["gate"]["passed"] else "FAIL"
    lines = [f"edgec: built {path} for {report['target']['id']} in {report['seconds']:.1f} s"]
    accuracy = baseline["accuracy"]
    base = f"top-1 {100 * accuracy:.2f}%" if accuracy is not None else "no labels"
    lines.append(
        f"  float baseline {baseline['file']}: {baseline['size_bytes'] / 1024:.1f} KiB, {base} "
        f"on {data['samples']} samples ({data['source']}){streamed_text(data)}"
    )
    for item in baseline.get("frozen_inputs") or []:  # the device calls the artifacts without these inputs
        lines.append(f"  input {item['input']} frozen to {item['value']} ({item['dtype']}) in every artifact")
    parity = baseline.get("export_parity")
    if parity:
        exact = parity["agreement"] in (1.0, None) and parity["cosine"] > 0.9999
        flag = "" if exact else "  WARNING: the export changed outputs"
        agreement = "" if parity["agreement"] is None else f", top-1 agreement {100 * parity['agreement']:.1f}%"
        lines.append(
            f"  export parity torch vs ONNX: max abs {parity['max_abs']:.2g}{agreement} "
            f"on {parity['samples']} samples{flag}"
        )
    for art in report["artifacts"]:
        ev = art["evaluation"]
        accuracy_text = (
            ""
            if ev["accuracy"] is None
            else (f"top-1 {100 * ev['accuracy']:.2f}% (drop {ev['accuracy_drop_points']:.2f} points{_noise(ev)}), ")
        )
        sqnr, agreement = ev["drift"]["sqnr_db"], ev["drift"]["agreement"]
        accuracy_text = f"{verification_text(art)}, {_kind_text(ev)}" + accuracy_text
        agreement_text = "" if agreement is None else f"agreement {100 * agreement:.2f}%, "
        if ev.get("user_metric"):  # --metric: the user's own number, the gate's primary one
            agreement_text = f"{ev['user_metric']['name']} {ev['user_metric']['value']:.4g}, " + agreement_text
        if ev["drift"].get("char_accuracy") is not None:  # a CTC line: how much of each line survives
            agreement_text += f"char accuracy {100 * ev['drift']['char_accuracy']:.2f}%, "
        origin = ", ".join(filter(None, [kernels_text(ev), host_kernels_text(ev)]))
        lines.append(
            f"  {art['file']}: {art['size_bytes'] / 1024:.1f} KiB ({art['size_ratio']:.2f}x float), "
            f"{accuracy_text}{agreement_text}SQNR {sqnr:.1f} dB{_latency(art)}" + (f"; {origin}" if origin else "")
        )
    lines += [
        f"  {f['file']}: NOT BUILT: {clip(f['message'])}; {f['try']}" for f in report.get("failed_artifacts") or []
    ]
    failed = {c["artifact"] for c in report["gate"]["checks"] if not c["passed"]}
    lines += [line for art in report["artifacts"] if art["name"] in failed and (line := traced_summary(art))]
    for name, found in report.get("search", {}).items():
        if "skipped" in found:
            lines.append(f"  search {name}: not run: {found['skipped']}")
            continue
        chosen = found["chosen"]
        kept = ", ".join(chosen["float_nodes"]) or "none"
        lines.append(
            f"  search {name}: {'PASS' if found['passed'] else 'no passing candidate'} after "
            f"{len(found['trials'])} trials ({found['stopped_by']}); float: {kept} "
            f"({100 * chosen['float_mac_fraction']:.2f}% of MACs)"
        )
    for pair in report.get("cross_format", []):
        agreement = "" if pair["agreement"] is None else f"agreement {100 * pair['agreement']:.2f}%, "
        lines.append(f"  cross-format {' vs '.join(pair['pair'])}: {agreement}cosine {pair['cosine']:.5f}")
    for name, facts in report.get("constraints", {}).items():
        if facts.get("compile_command"):
            lines.append(f"  {name}: next: {facts['compile_command']}")
    gate = report["gate"]
    cross = f"; cross-format agreement >= {gate['min_cross_format_agreement']}" if report.get("cross_format") else ""
    lines.append(
        f"  gate: {verdict} (top-1 drop <= {gate['max_accuracy_drop_points']} points, agreement >= "
        f"{gate['min_agreement']} without labels{_sqnr_floor(gate)}{cross})"
    )
    for check in (c for c in gate["checks"] if c["metric"] == "top1_change_vs_baseline_points"):
        lines.append(
            f"  vs baseline {check['artifact']}: top-1 change {check['value']:+.2f} points "
            f"({'ok' if check['passed'] else 'REGRESSION'})"
        )
    cached = [rec["name"] for _, rec in stages(report) if rec["cached"]]
    ran = [rec["name"] for _, rec in stages(report) if not rec["cached"]]
    lines.append(
        f"  cache: {len(cached)} pass(es) reused ({', '.join(cached) or '-'}); {len(ran)} ran ({', '.join(ran) or '-'})"
    )
    return "\n".join(lines)


def _kind_text(evaluation: dict[str, Any]) -> str:
    """Said only when the output is not plain class scores: then 'agreement' means the kind's decisions."""
    kind = evaluation.get("output_kind") or {"name": "classes"}
    if kind["name"] == "classes":
        return ""
    if kind["name"] == "score":
        return f"score output (decision at {kind['threshold']:g}), "
    return f"{kind['name']} output, "


def _sqnr_floor(gate: dict[str, Any]) -> str:
    floor = gate.get("min_sqnr_db")  # reports before schema 1.4 had none
    return "" if floor is None else f"; SQNR >= {floor:g} dB"


def _noise(evaluation: dict[str, Any]) -> str:
    """The drop's 95% interval and the flip count, when the report has them."""
    stats = evaluation.get("statistics") or {}
    interval = stats.get("drop_interval_points")
    if not interval:
        return ""
    return f", 95% interval {interval[0]:.2f} to {interval[1]:.2f}; {stats['flips']['count']} flipped"


def _latency(art: dict[str, Any]) -> str:
    latency = art.get("latency")
    if not latency:
        return ""
    isa = f" ({latency['isa']})" if latency.get("isa") else ""
    return f", host{isa} p50 {latency['p50_ms']:.3f} ms"
