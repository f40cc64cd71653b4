"""A format-neutral view of one artifact: layers in execution order, the activations each reads and writes,
its multiply-accumulates and the constant bytes it carries.

ONNX and TFLite graphs differ in everything else; liveness, the roofline and the budget checks are written once
against this view, so both formats are costed by the same rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

# what a layer's compute rate depends on in the roofline: depthwise convolutions reuse each weight far less
KINDS = ("conv", "depthwise", "matmul", "other")


@dataclass(frozen=True)
class Window:
    """A convolution's sliding window: what decides the scratch buffer its kernel asks for."""

    kernel: int  # kernel height x width
    channels: int  # input channels per group
    out_pixels: int
    resampled: bool  # stride or padding changes the spatial size: im2col kernels cannot read the input in place
    itemsize: int


@dataclass(frozen=True)
class Layer:
    name: str
    op: str
    kind: str
    dtype: str  # the dtype its arithmetic runs in: int8, float16 or float32
    macs: int
    weight_bytes: int
    reads: tuple[str, ...]  # activation tensors, by key into CostGraph.sizes
    writes: tuple[str, ...]
    window: Window | None = None  # convolutions only


@dataclass(frozen=True)
class CostGraph:
    format: str  # "onnx" or "tflite"
    layers: tuple[Layer, ...]
    sizes: dict[str, int]  # bytes of every activation tensor at batch 1
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    weight_bytes: int  # every constant once: what the weights cost in flash or RAM
    file_bytes: int

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def ops(self) -> dict[str, int]:
        return dict(sorted(Counter(layer.op for layer in self.layers).items()))

    def traffic(self, layer: Layer) -> int:
        """Bytes a layer moves: its activations in and out plus its weights, each once (no cache reuse)."""
        return sum(self.sizes[t] for t in (*layer.reads, *layer.writes)) + layer.weight_bytes


def compute_dtype(dtype: str) -> str:
    """The arithmetic a tensor dtype implies: 8-bit integers run int8 kernels, float16 runs half precision."""
    if dtype in ("int8", "uint8"):
        return "int8"
    return "float16" if dtype == "float16" else "float32"
