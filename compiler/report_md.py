"""report.md: a view rendered from report.json's record and nothing else."""

from __future__ import annotations

from typing import Any

from .report import stages, verification_text
from .report_cost import cost_markdown
from .report_device import device_markdown
from .report_drift_md import drift_lines
from .report_format import num, pct, streamed_text
from .report_kernels import kernels_markdown


def render_markdown(report: dict[str, Any]) -> str:
    target, source, data = report["target"], report["source"], report["data"]
    verdict = "PASS" if report["gate"]["passed"] else "FAIL"
    lines = [
        f"# edgec build: {source['name']} for {target['id']}: {verdict}",
        "",
        f"- source: `{source['location']}` ({source['kind']}, sha256 `{source['sha256'][:12]}`)",
        f"- target: {target['description']}",
        f"- calibration: {_data_line(data['calibration'])}",
        f"- evaluation: {_data_line(data['evaluation'])}",
        f"- float baseline: `{report['baseline']['file']}` in {report['baseline']['runtime']}"
        + _accuracy_suffix(report["baseline"].get("accuracy")),
        _parity_line(report["baseline"].get("export_parity")),
        "",
        "## Artifacts",
        "",
        "| artifact | precision | size | zlib | vs float | accuracy | drop (points) | agreement | cosine "
        "| SQNR dB | max abs |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for art in report["artifacts"]:
        ev = art["evaluation"]
        drift = ev["drift"]
        lines.append(
            f"| `{art['file']}` | {art['precision']} | {art['size_bytes'] / 1024:.1f} KiB | "
            f"{art['compressed_bytes'] / 1024:.1f} KiB | {art['size_ratio']:.3f}x | {pct(ev['accuracy'])} | "
            f"{num(ev['accuracy_drop_points'])} | "
            f"{pct(drift['agreement'])} | {drift['cosine']:.5f} | {num(drift['sqnr_db'])} | "
            f"{drift['max_abs']:.4g} |"
        )
    for art in report["artifacts"]:
        lines.append(f"\n`{art['file']}` ({art['runtime']}): {verification_text(art)}.")
    for pair in report.get("cross_format", []):
        lines.append(
            f"\nCross-format parity {' vs '.join(pair['pair'])}: top-1 agreement {pct(pair['agreement'])}, "
            f"cosine {pair['cosine']:.5f}, SQNR {num(pair['sqnr_db'])} dB."
        )
    for name, facts in report.get("constraints", {}).items():
        lines.append(
            f"\nTarget constraints for `{name}`: met ({len(facts['ops'])} op types, all allowed)."
            + (f" Next: `{facts['compile_command']}`." if facts["compile_command"] else "")
        )
    lines += kernels_markdown(report)
    lines += cost_markdown(report)
    lines += drift_lines(report)
    lines += _pruning_lines(report)
    lines += device_markdown(report)
    for name, found in report.get("search", {}).items():
        if "skipped" in found:
            lines += ["", f"## Fallback search for `{name}`", "", f"Not run: {found['skipped']}."]
            continue
        lines += [
            "",
            f"## Fallback search for `{name}`",
            "",
            f"Stopped: {found['stopped_by']}. Chosen: float nodes {found['chosen']['float_nodes'] or 'none'} "
            f"({100 * found['chosen']['float_mac_fraction']:.2f}% of MACs in float), "
            f"{'passing' if found['passed'] else 'best effort, NOT passing'}. {found['note'].capitalize()}.",
            "",
            "Sensitivity (output SQNR gain when the op alone stays float):",
            "",
            "| node | MACs | SQNR gain dB |",
            "|---|---|---|",
        ]
        lines += [f"| `{row['node']}` | {row['macs']} | {num(row['sqnr_gain_db'])} |" for row in found["sensitivity"]]
        lines += _tensor_sqnr_lines(found.get("tensor_sqnr", []))
        lines += [
            "",
            "| stage | float nodes | passed | drop (points) | agreement | SQNR dB | float MACs | p50 ms |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {t['stage']} | {', '.join(t['float_nodes']) or '-'} | {'yes' if t['passed'] else 'no'} | "
            f"{num(t['accuracy_drop_points'])} | {pct(t['agreement'])} | {num(t['sqnr_db'])} | "
            f"{100 * t['float_mac_fraction']:.2f}% | {num(t['latency_p50_ms'])} |"
            for t in found["trials"]
        ]
    lines += _not_built_lines(report)
    lines += ["", "## Gate", ""]
    lines += [
        f"- {'ok' if c['passed'] else '**FAIL**'}: {c['artifact']} {c['metric']} = {_value(c['value'])} "
        f"(budget {c['limit']:g})"
        for c in report["gate"]["checks"]
    ]
    lines += [
        "",
        "## Passes",
        "",
        "| stage | pass | config | seconds | cached | modified | nodes |",
        "|---|---|---|---|---|---|---|",
    ]
    for stage, rec in stages(report):
        config = ", ".join(f"{k}={v}" for k, v in rec["config"].items()) or "-"
        nodes = f"{sum(rec['ops_before'].values())} -> {sum(rec['ops_after'].values())}"
        lines.append(
            f"| {stage} | {rec['name']} | {config} | {rec['seconds']:.2f} | "
            f"{'yes' if rec['cached'] else 'no'} | {'yes' if rec['modified'] else 'no'} | {nodes} |"
        )
    quant = target["quantization"]
    lines += [
        "",
        "## Quantization scheme",
        "",
        f"activations {quant['activations']}, weights {quant['weights']}, "
        f"per-channel {quant['per_channel']}, reduce_range {quant['reduce_range']}.",
        "",
        quant["why"],
        "",
        "## Tools",
        "",
        ", ".join(f"{k} {v}" for k, v in report["tools"].items()),
        "",
    ]
    return "\n".join(lines)


def _value(value: Any) -> str:
    """A check's value: report.json spells an infinite SQNR 'inf', a number otherwise."""
    return value if isinstance(value, str) else f"{value:.4g}"


def _not_built_lines(report: dict[str, Any]) -> list[str]:
    """Artifacts a converter could not build (partial_build.py): the others are in this build."""
    failed = report.get("failed_artifacts") or []
    if not failed:
        return []
    lines = ["", "## Not built", ""]
    for f in failed:
        lines += [f"- `{f['file']}` ({f['pipeline']}): {f['message']}", f"  Try: {f['try']}."]
    return lines


def _pruning_lines(report: dict[str, Any]) -> list[str]:
    """What pruning did to each artifact and what it buys, then the auto search's curve if there was one."""
    lines: list[str] = []
    for art in report["artifacts"]:
        for rec in art["passes"]:
            details = rec["details"]
            if rec["name"] == "prune":
                layers = details["layer_sparsity"]
                lines += [
                    "",
                    f"## Pruning in `{art['file']}`",
                    "",
                    f"Unstructured, {rec['config'].get('method')}: {len(layers)} layers at "
                    f"{min(layers.values()):.0%}-{max(layers.values()):.0%} zeros. Compressed (zlib) the float "
                    f"model went {details['compressed_bytes_before'] / 1024:.1f} -> "
                    f"{details['compressed_bytes'] / 1024:.1f} KiB; the artifact compresses to "
                    f"{art['compressed_bytes'] / 1024:.1f} KiB of {art['size_bytes'] / 1024:.1f} KiB. Zeros buy "
                    "no speed: neither ONNX Runtime's nor LiteRT's CPU kernels skip them.",
                ]
            elif rec["name"] == "prune-channels":
                lines += [
                    "",
                    f"## Pruning in `{art['file']}`",
                    "",
                    f"Structured: {len(details['channels'])} channel groups cut, parameters "
                    f"{details['params_before']:,} -> {details['params_after']:,}: "
                    + ", ".join(f"`{k}` {v}" for k, v in details["channels"].items()),
                ]
            elif rec["name"] == "finetune":
                history = details["history"]
                lines += [
                    "",
                    f"Fine-tuned {len(history)} epoch(s) on {details['samples']} labelled samples: training loss "
                    f"{history[0]['loss']:.4f} -> {history[-1]['loss']:.4f}, running training accuracy "
                    f"{history[-1]['running_accuracy']:.2%} in the last epoch.",
                ]
    found = report.get("prune_search")
    if not found:
        return lines
    chosen = found["chosen"]
    lines += [
        "",
        f"## Prune search (`--prune {found['request']}`)",
        "",
        f"Measured on `{found['measured_on']}`; stopped by {found['stopped_by']}. Chosen: "
        + (f"{found['option']}={chosen:g}." if chosen is not None else "none within budget; built unpruned."),
        "",
        f"| {found['option']} | within budget | drop (points) | agreement | p50 ms | size | zlib | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p['amount']:g} | {'yes' if p['passed'] else 'no'} | {num(p['accuracy_drop_points'])} | "
        f"{pct(p['agreement'])} | {num(p['latency_p50_ms'])} | {p['size_bytes'] / 1024:.1f} KiB | "
        f"{p['compressed_bytes'] / 1024:.1f} KiB | {p['seconds']:.1f} |"
        for p in found["curve"]
    ]
    return [*lines, "", f"![prune curve]({found['plot']})"]


def _data_line(entry: dict[str, Any]) -> str:
    if not entry:
        return "none"
    labels = "with labels" if entry.get("labels") else "no labels"
    line = f"{entry['source']}: {entry['samples']} samples, {labels}, sha256 `{entry['sha256'][:12]}`"
    return line + streamed_text(entry)


def _parity_line(parity: dict[str, Any] | None) -> str:
    if not parity:
        return "- export parity: not applicable (the source is ONNX)"
    return (
        f"- export parity (torch vs ONNX baseline, {parity['samples']} samples): max abs {parity['max_abs']:.3g}, "
        f"cosine {parity['cosine']:.6f}, top-1 agreement {pct(parity['agreement'])}"
    )


def _accuracy_suffix(value: float | None) -> str:
    return "" if value is None else f", top-1 accuracy {pct(value)}"


def _tensor_sqnr_lines(rows: list[dict[str, Any]], shown: int = 12) -> list[str]:
    """Where naive int8 loses signal, in graph order; long graphs show only their lowest-SQNR tensors."""
    if not rows:
        return []
    lowest = {r["tensor"] for r in sorted(rows, key=lambda r: r["sqnr_db"])[:shown]}
    note = "" if len(rows) <= shown else f" (the {shown} lowest of {len(rows)})"
    lines = ["", f"Per-tensor SQNR of naive int8 against float, in graph order{note}:", "", "| tensor | SQNR dB |"]
    lines.append("|---|---|")
    return lines + [f"| `{r['tensor']}` | {r['sqnr_db']:.2f} |" for r in rows if r["tensor"] in lowest]
