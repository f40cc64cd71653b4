"""How an artifact's inputs and outputs relate to the float baseline's: names and axis orders.

A TFLite artifact converted from an NCHW ONNX model takes NHWC; the device harness and the host validation
both feed each artifact in its own layout and bring its outputs back to the baseline's, so their numbers
compare like with like. Pure Python and numpy, because the device side needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class IoLayout:
    """Per input: the baseline name, the artifact's name, and the axis permutation baseline -> artifact.

    Per output: the permutation artifact -> baseline (the inverse direction, to compare against the baseline).
    """

    inputs: tuple[tuple[str, str, tuple[int, ...]], ...] = ()
    outputs: tuple[tuple[int, ...], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": [list(i) for i in self.inputs], "outputs": [list(o) for o in self.outputs]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IoLayout:
        inputs = tuple((a, b, tuple(p)) for a, b, p in data.get("inputs", []))
        return cls(inputs, tuple(tuple(p) for p in data.get("outputs", [])))

    def describe(self) -> str:
        moved = [f"{name}: axes {list(perm)}" for name, _, perm in self.inputs if list(perm) != sorted(perm)]
        return "same layout as the baseline" if not moved else "transposed inputs " + "; ".join(moved)

    def feeds(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Baseline-layout inputs as the artifact takes them: under its own names, in its own axis order."""
        return {artifact_name: np.transpose(inputs[name], perm) for name, artifact_name, perm in self.inputs}

    def first_output_as_baseline(self, first: np.ndarray) -> np.ndarray:
        """The artifact's first output in the baseline's axis order."""
        return self.output_as_baseline(0, first)

    def output_as_baseline(self, index: int, output: np.ndarray) -> np.ndarray:
        """The artifact's output `index` in the baseline's axis order."""
        if index < len(self.outputs) and output.ndim == len(self.outputs[index]):
            return np.transpose(output, self.outputs[index])
        return output


def artifact_inputs(inputs: dict[str, np.ndarray], layout: IoLayout | None) -> dict[str, np.ndarray]:
    """`inputs` for an artifact with `layout` (None: the baseline's own layout)."""
    return inputs if layout is None else layout.feeds(inputs)
