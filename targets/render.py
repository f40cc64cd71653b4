"""`edgec targets show`: a profile as a person reads it, facts first, then the decisions they drive."""

from __future__ import annotations

from .profile import Constraints, Memory, TargetProfile


def render_profile(profile: TargetProfile) -> str:
    cpu, memory, quant, budgets = profile.cpu, profile.memory, profile.quantization, profile.budgets
    lines = [
        f"{profile.id}: {profile.description}",
        f"  cpu          {cpu.cores}x {cpu.core} @ {cpu.clock_ghz} GHz ({cpu.arch}; {', '.join(cpu.features) or '-'})",
        f"  memory       {_ram(memory)} RAM; storage {memory.storage or '-'}",
        f"  limits       {_limits(profile.constraints)}",
        f"  threads      {profile.threads}",
        f"  quantization activations {quant.activations}, weights {quant.weights}, per-channel "
        f"{str(quant.per_channel).lower()}, reduce_range {str(quant.reduce_range).lower()}, "
        f"{quant.format}, calibration {quant.calibration}"
        + (", symmetric activations" if quant.symmetric_activations else ""),
        f"  budgets      top-1 drop <= {budgets.max_accuracy_drop} points; agreement >= {budgets.min_agreement} "
        f"(unlabelled data); output SQNR >= {budgets.min_sqnr_db:g} dB"
        + (f"; device p90 <= {budgets.max_latency_ms} ms" if budgets.max_latency_ms is not None else ""),
        "  artifacts",
        *[f"    {a.name:<10} {a.format} for {a.runtime}: {a.pipeline}" for a in profile.artifacts],
    ]
    if profile.cost:
        cost = profile.cost
        lines.append(
            f"  cost model   int8 {cost.int8_gmacs:g} / float32 {cost.float32_gmacs:g} GMAC/s, "
            f"{cost.bandwidth_gbs:g} GB/s, {cost.layer_overhead_us:g} us per layer, scratch {cost.scratch} "
            f"({', '.join(sorted({s.partition(':')[0] for s in cost.sources.values()}))})"
        )
    if profile.published:
        lines.append("  published    " + "; ".join(f"{k} = {v}" for k, v in profile.published.items()))
    if quant.why:
        lines.append(f"  why this scheme: {' '.join(quant.why.split())}")
    for note in profile.unverified:
        lines.append(f"  unverified: {note}")
    return "\n".join(lines)


def _ram(memory: Memory) -> str:
    """In KB where the profile states KB: a microcontroller's 256 KB is not "0 MB"."""
    return f"{memory.ram_kb} KB" if memory.ram_kb else f"{memory.ram_mb} MB"


def _limits(constraints: Constraints) -> str:
    """The hard limits an artifact is refused for breaking, so a user sees them before a compile fails."""
    limits = []
    if constraints.flash_kb:
        limits.append(f"flash <= {_size(constraints.flash_kb)}")
    if constraints.ram_kb:
        limits.append(f"RAM for the model <= {_size(constraints.ram_kb)}")
    if constraints.allowed_ops:
        name = constraints.op_set or "allowed ops"
        limits.append(f"op set {name} ({len(constraints.allowed_ops)} ops)")
    if constraints.static_shapes:
        limits.append("static shapes")
    if constraints.max_tensor_rank:
        limits.append(f"tensor rank <= {constraints.max_tensor_rank}")
    if constraints.compile_command:
        limits.append(f"must pass `{constraints.compile_command.partition('  #')[0].strip()}`")
    return "; ".join(limits) or "none (any op, shape and size)"


def _size(kb: int) -> str:
    """KB as the profile states it, in MB when that is a whole number (524288 KB reads as 512 MB)."""
    return f"{kb // 1024} MB" if kb >= 1024 and kb % 1024 == 0 else f"{kb} KB"
