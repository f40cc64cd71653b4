"""Peak activation memory from tensor liveness in execution order: the arena a TFLite (Micro) or ONNX Runtime
run must hold at once.

A tensor is live from the layer that writes it to the last layer that reads it; graph inputs are live for the
whole run (TFLite's planner never reuses them, and the application holds its input buffer anyway) and graph
outputs from their writer to the end. A layer needs its inputs, its outputs and its kernel's scratch at the
same time. The largest such sum is what a perfect planner needs; bench/cost_model.py holds it against the
arena LiteRT's own planner lays out.
"""

from __future__ import annotations

from dataclasses import dataclass

from .graph import CostGraph
from .scratch import scratch_bytes


@dataclass(frozen=True)
class Peak:
    bytes: int
    layer: str  # the layer that runs when the live set is largest
    live: tuple[tuple[str, int], ...]  # what is live then (tensors and the kernel's scratch), largest first

    def to_dict(self) -> dict[str, object]:
        return {"bytes": self.bytes, "layer": self.layer, "live": [{"tensor": t, "bytes": b} for t, b in self.live]}


def peak_activations(graph: CostGraph, scratch: str = "none") -> Peak:
    end = max(len(graph.layers) - 1, 0)
    first = dict.fromkeys(graph.inputs, 0)
    last = dict.fromkeys(graph.inputs, end)
    for step, layer in enumerate(graph.layers):
        for tensor in layer.writes:
            first.setdefault(tensor, step)
        for tensor in layer.reads:
            last[tensor] = max(last.get(tensor, step), step)
    last.update(dict.fromkeys(graph.outputs, end))
    best = Peak(0, "", ())
    for step, layer in enumerate(graph.layers):
        live = [(t, graph.sizes[t]) for t, born in first.items() if born <= step <= last.get(t, born)]
        extra = scratch_bytes(layer, scratch)
        if extra:
            live.append((f"scratch of {layer.name}", extra))
        total = sum(size for _, size in live)
        if total > best.bytes:
            best = Peak(total, layer.name, tuple(sorted(live, key=lambda item: -item[1])))
    return best
