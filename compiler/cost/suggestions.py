"""What to change when a budget is missed, chosen from what actually fills it (not a generic list)."""

from __future__ import annotations

from ...targets.profile import TargetProfile
from .graph import CostGraph

PRUNE = "prune channels (--prune structured:0.5, or structured:auto to stay within the accuracy budget)"
SMALLER_INPUT = "a smaller input (--input-shape): activations and MACs scale with its area"


def suggestions(resource: str, graph: CostGraph, profile: TargetProfile, largest: list[str]) -> list[str]:
    floats = any(layer.dtype == "float32" and layer.macs for layer in graph.layers)
    quantize = "quantize to int8 (drop --no-quantize): int8 weights and activations are 4x smaller than float"
    if resource == "flash":
        return [PRUNE + ": it removes whole filters and their weights", *([quantize] if floats else [])]
    if resource == "latency":
        return [PRUNE, SMALLER_INPUT, *([quantize] if floats else [])]
    advice = [SMALLER_INPUT, PRUNE + ": the largest activations shrink with their channel count"]
    if profile.quantization.io == "float32" and _float_io(graph, largest):
        advice.append('int8 IO (quantization.io = "int8" in the profile): the float input and output buffers go')
    if "weights" in largest and profile.memory.weights_in == "ram":
        advice.append(quantize if floats else "prune: the weights are held in RAM on this device")
    if any(name.startswith("scratch of ") for name in largest):
        advice.append("fewer input channels in the layer with the large scratch (its kernel's working buffer)")
    return advice


def _float_io(graph: CostGraph, largest: list[str]) -> bool:
    """Is a float graph input or output among the largest? In an int8 model it exists only for the float IO."""
    edges = {
        tensor
        for layer in graph.layers
        if layer.op in ("QUANTIZE", "DEQUANTIZE", "QuantizeLinear", "DequantizeLinear")
        for tensor in (*layer.reads, *layer.writes)
        if tensor in graph.inputs or tensor in graph.outputs
    }
    return bool(edges & set(largest))
