"""A roofline latency estimate: each layer takes its fixed overhead plus the longer of its arithmetic (MACs at
the profile's rate for its dtype) and its memory traffic (bytes at the profile's bandwidth); a run adds a fixed
invocation overhead.

It is a model, not a measurement: the profile's `[cost]` constants say which numbers were fitted on a device
(bench/cost_model.py), derived from a published latency, or taken from a datasheet.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...targets.profile import Cost
from .graph import CostGraph, Layer


@dataclass(frozen=True)
class LayerTime:
    name: str
    op: str
    ms: float
    bound: str  # "compute" or "memory": which side of the roofline the layer sits on


@dataclass(frozen=True)
class LatencyEstimate:
    ms: float
    run_overhead_ms: float
    layers: tuple[LayerTime, ...]

    def slowest(self, count: int = 3) -> list[LayerTime]:
        return sorted(self.layers, key=lambda layer: -layer.ms)[:count]


def estimate_latency(graph: CostGraph, cost: Cost) -> LatencyEstimate:
    layers = tuple(_layer_time(graph, layer, cost) for layer in graph.layers)
    overhead = cost.run_overhead_us / 1e3
    return LatencyEstimate(overhead + sum(layer.ms for layer in layers), overhead, layers)


def _layer_time(graph: CostGraph, layer: Layer, cost: Cost) -> LayerTime:
    rate = {"int8": cost.int8_gmacs, "float16": cost.float16_gmacs or cost.float32_gmacs}.get(
        layer.dtype, cost.float32_gmacs
    )
    if layer.kind == "depthwise":
        rate *= cost.depthwise_efficiency
    compute_ms = layer.macs / (rate * 1e6)
    memory_ms = graph.traffic(layer) / (cost.bandwidth_gbs * 1e6)
    bound = "compute" if compute_ms >= memory_ms else "memory"
    return LayerTime(layer.name, layer.op, cost.layer_overhead_us / 1e3 + max(compute_ms, memory_ms), bound)
