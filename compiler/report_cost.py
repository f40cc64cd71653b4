"""The cost-model section of report.md: what each artifact needs on the target, against its budgets."""

from __future__ import annotations

from typing import Any

from .cost.units import amount_text, size_text


def cost_markdown(report: dict[str, Any]) -> list[str]:
    rows = [a for a in report["artifacts"] if a.get("cost")]
    if not rows:
        return []
    target = report["target"]["id"]
    lines = [
        f"\n## Cost on {target} (static analysis)\n",
        "| artifact | MACs | weights | flash | peak activations | RAM needed | estimated latency | host p50 here |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for art in rows:
        cost = art["cost"]
        budgets = {b["resource"]: b for b in cost["budgets"]}
        estimate = cost["latency_estimate_ms"]
        lines.append(
            f"| `{art['file']}` | {cost['macs'] / 1e6:.2f} M | {size_text(cost['weights_bytes'])} | "
            f"{size_text(cost['flash_bytes'])}{_limit(budgets.get('flash'))} | "
            f"{size_text(cost['peak_activation_bytes'])} | "
            f"{size_text(cost['ram_bytes'])}{_limit(budgets.get('RAM'))} | "
            f"{'-' if estimate is None else f'{estimate:.3g} ms'}{_limit(budgets.get('latency'))} | "
            f"{art['latency']['p50_ms']:.3g} ms |"
        )
    for art in rows:
        measured = art["cost"].get("arena_measured")
        if measured:  # a TFLite Micro artifact: the arena its interpreter really needed, beside the estimate
            ratio = art["cost"]["arena_measured_ratio"]
            lines.append(
                f"\n`{art['file']}` tensor arena measured in {measured['runtime']}: "
                f"{size_text(measured['used_bytes'])} (planned {size_text(measured['planned_bytes'])} + "
                f"persistent {size_text(measured['persistent_bytes'])}) against the estimate "
                f"{size_text(measured['estimate_bytes'])}{'' if ratio is None else f', ratio {ratio:.2f}'} "
                "(host build: 64-bit pointers, reference kernels)."
            )
        for budget in art["cost"]["budgets"]:
            largest = ", ".join(
                f"`{c['name']}` {amount_text(c['amount'], budget['unit'])}" for c in budget["contributors"]
            )
            lines.append(f"\n`{art['file']}` {budget['resource']}: largest {largest}.")
    return lines


def _limit(budget: dict[str, Any] | None) -> str:
    if not budget or budget["available"] is None:
        return ""
    return f" (budget {amount_text(budget['available'], budget['unit'])}{'' if budget['fits'] else ', OVER'})"
