"""One artifact's costs on one target, and the verdict of the target's RAM, flash and latency budgets.

A budget that is missed names the numbers a user needs to act: what is needed, what the device has, the
three largest contributors, and which edgec options shrink exactly those.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ...targets.profile import TargetProfile
from ..kinds import Model, OnnxModel
from .graph import CostGraph
from .latency import LatencyEstimate, estimate_latency
from .liveness import Peak, peak_activations
from .suggestions import suggestions
from .units import amount_text


@dataclass(frozen=True)
class Budget:
    resource: str  # "RAM", "flash" or "latency"
    needed: float
    available: float | None  # None: the profile sets no budget for it
    unit: str  # "bytes" or "ms"
    contributors: tuple[tuple[str, float], ...]  # the three largest, largest first
    suggestions: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return self.available is None or self.needed <= self.available

    def describe(self) -> str:
        largest = ", ".join(f"{name} {amount_text(value, self.unit)}" for name, value in self.contributors)
        estimated = self.resource == "latency"  # a model's figure, not a count of bytes
        text = f"{self.resource} {'estimated' if estimated else 'needed'} {amount_text(self.needed, self.unit)}"
        if self.available is not None:
            text += f", {'budget' if estimated else 'available'} {amount_text(self.available, self.unit)}"
        text += f" (largest: {largest})"
        return text + (f"; try: {'; '.join(self.suggestions)}" if not self.fits and self.suggestions else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "needed": self.needed,
            "available": self.available,
            "unit": self.unit,
            "fits": self.fits,
            "contributors": [{"name": name, "amount": value} for name, value in self.contributors],
            "suggestions": list(self.suggestions),
        }


@dataclass(frozen=True)
class CostReport:
    artifact: str
    graph: CostGraph
    peak: Peak
    latency: LatencyEstimate | None
    budgets: tuple[Budget, ...]
    unsupported_ops: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return all(budget.fits for budget in self.budgets if budget.resource != "latency")

    @property
    def ram_bytes(self) -> int:
        """The arena, plus the weights where the device keeps them in RAM: what the RAM budget was held to."""
        return int(next(b.needed for b in self.budgets if b.resource == "RAM"))

    def to_dict(self) -> dict[str, Any]:
        times = {layer.name: layer for layer in self.latency.layers} if self.latency else {}
        return {
            "macs": self.graph.macs,
            "weights_bytes": self.graph.weight_bytes,
            "flash_bytes": self.graph.file_bytes,
            "peak_activation_bytes": self.peak.bytes,
            "peak": self.peak.to_dict(),
            "ram_bytes": self.ram_bytes,
            "latency_estimate_ms": self.latency.ms if self.latency else None,
            "ops": self.graph.ops,
            "unsupported_ops": list(self.unsupported_ops),
            "budgets": [budget.to_dict() for budget in self.budgets],
            "layers": [
                {
                    "name": layer.name,
                    "op": layer.op,
                    "dtype": layer.dtype,
                    "macs": layer.macs,
                    "weight_bytes": layer.weight_bytes,
                    "activation_bytes": sum(self.graph.sizes[t] for t in layer.writes),
                    "estimate_ms": times[layer.name].ms if layer.name in times else None,
                    "bound": times[layer.name].bound if layer.name in times else None,
                }
                for layer in self.graph.layers
            ],
        }


def cost_graph(model: Model) -> CostGraph:
    from ..kinds_tf import TfliteModel

    if isinstance(model, OnnxModel):
        from .onnx_graph import onnx_cost_graph

        return onnx_cost_graph(model)
    if isinstance(model, TfliteModel):
        from .tflite_graph import tflite_cost_graph

        return tflite_cost_graph(model.summary, len(model.flatbuffer))
    raise TypeError(f"no cost model for {model.kind} models: only ONNX and TFLite artifacts run on a device")


def analyze(model: Model, profile: TargetProfile, artifact: str) -> CostReport:
    graph = cost_graph(model)
    peak = peak_activations(graph, profile.cost.scratch if profile.cost else "im2col")
    weights_in_ram = profile.memory.weights_in == "ram"
    latency = estimate_latency(graph, profile.cost) if profile.cost else None
    rules = profile.constraints
    ram = peak.live + ((("weights", graph.weight_bytes),) if weights_in_ram else ())
    heaviest = [(layer.name, layer.weight_bytes) for layer in graph.layers]
    budgets = [
        _budget("RAM", sum(size for _, size in ram), rules.ram_kb * 1024 or None, "bytes", ram, graph, profile),
        _budget("flash", graph.file_bytes, rules.flash_kb * 1024 or None, "bytes", heaviest, graph, profile),
    ]
    if latency:
        slowest = [(layer.name, layer.ms) for layer in latency.slowest()]
        limit = profile.budgets.max_latency_ms
        budgets.append(_budget("latency", latency.ms, limit, "ms", slowest, graph, profile))
    allowed = set(rules.allowed_ops)
    unsupported = tuple(op for op in graph.ops if allowed and graph.format == "tflite" and op not in allowed)
    return CostReport(artifact, graph, peak, latency, tuple(budgets), unsupported)


def _budget(
    resource: str,
    needed: float,
    available: float | None,
    unit: str,
    items: Any,
    graph: CostGraph,
    profile: TargetProfile,
) -> Budget:
    contributors = tuple(sorted(items, key=lambda item: -item[1])[:3])
    budget = Budget(resource, needed, available, unit, contributors, ())
    if budget.fits:
        return budget
    advice = suggestions(resource, graph, profile, [name for name, _ in contributors])
    return dataclasses.replace(budget, suggestions=tuple(advice))
