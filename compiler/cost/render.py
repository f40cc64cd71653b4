"""The text `edgec inspect` prints: totals and budgets first (the answer), then the layers that cost most."""

from __future__ import annotations

from ...targets.profile import TargetProfile
from .analysis import CostReport
from .units import size_text


def render_text(report: CostReport, profile: TargetProfile, layer_count: int) -> str:
    graph = report.graph
    lines = [
        f"{report.artifact} on {profile.id}: {graph.format}, {len(graph.layers)} layers, "
        f"{graph.macs / 1e6:.2f} M MACs at batch 1, weights {size_text(graph.weight_bytes)}",
        f"  peak activations {size_text(report.peak.bytes)} while {report.peak.layer} runs "
        f"(scratch rule: {profile.cost.scratch if profile.cost else 'im2col'})",
    ]
    for budget in report.budgets:
        verdict = "no budget" if budget.available is None else ("fits" if budget.fits else "DOES NOT FIT")
        lines.append(f"  {verdict:>12}  {budget.describe()}")
    if report.latency and profile.cost:
        origins = sorted({source.partition(":")[0] for source in profile.cost.sources.values()})
        lines.append(f"  latency constants: {', '.join(origins)} (see [cost.sources] in the profile)")
    elif not profile.cost:
        lines.append(f"  no latency estimate: the {profile.id} profile has no [cost] table")
    ops = ", ".join(f"{op} x{count}" for op, count in graph.ops.items())
    lines.append(f"  ops: {ops}")
    if report.unsupported_ops:
        op_set = profile.constraints.op_set or "allowed"
        lines.append(f"  NOT in the {op_set} op set: {', '.join(report.unsupported_ops)}")
    times = {layer.name: layer for layer in report.latency.layers} if report.latency else {}
    ranked = sorted(graph.layers, key=lambda layer: -(times[layer.name].ms if times else layer.macs))
    shown = ranked if layer_count <= 0 else ranked[:layer_count]
    lines.append(f"\n{'layer':<40} {'op':<18} {'dtype':<8} {'MACs':>12} {'weights':>10} {'output':>10} {'est ms':>8}")
    for layer in shown:
        output = sum(graph.sizes[t] for t in layer.writes)
        estimate = f"{times[layer.name].ms:.4f}" if times else "-"
        lines.append(
            f"{_short(layer.name, 40):<40} {layer.op[:18]:<18} {layer.dtype:<8} {layer.macs:>12,} "
            f"{size_text(layer.weight_bytes):>10} {size_text(output):>10} {estimate:>8}"
        )
    if len(shown) < len(ranked):
        lines.append(f"... {len(ranked) - len(shown)} more (--layers 0 shows all)")
    return "\n".join(lines)


def _short(name: str, width: int) -> str:
    return name if len(name) <= width else "..." + name[-(width - 3) :]
