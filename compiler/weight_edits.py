"""Reading and writing a layer's constant weights and bias in an editable ONNX proto.

Four passes edit weights in place (bias correction, unstructured and structured pruning, fine-tuning); they
share these few lines so a layer without a bias input gets one the same way everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import require


def read(weights: dict[str, Any], name: str) -> np.ndarray:
    """An initializer's values in float64, for arithmetic that should not round twice."""
    return require("onnx").numpy_helper.to_array(weights[name]).astype(np.float64)


def write(weights: dict[str, Any], name: str, values: np.ndarray) -> None:
    """Replace an initializer's values, keeping its name and dtype."""
    numpy_helper = require("onnx").numpy_helper
    tensor = weights[name]
    dtype = numpy_helper.to_array(tensor).dtype
    tensor.CopyFrom(numpy_helper.from_array(np.asarray(values).astype(dtype), name))


def bias(node: Any, weights: dict[str, Any], outputs: int) -> np.ndarray | None:
    """The layer's per-output bias: its values, zeros when it has none, None when its third input is not a
    constant of shape (outputs,) (a broadcast Gemm C, say) and so cannot be edited per output."""
    if len(node.input) < 3 or not node.input[2]:
        return np.zeros(outputs)
    if node.input[2] not in weights or tuple(weights[node.input[2]].dims) != (outputs,):
        return None
    return read(weights, node.input[2])


def set_bias(proto: Any, node: Any, weights: dict[str, Any], values: np.ndarray) -> None:
    """Write the layer's bias, adding a float32 bias initializer when the layer had none."""
    if len(node.input) > 2 and node.input[2]:
        write(weights, node.input[2], values)
        return
    name = f"{node.name or node.output[0]}_bias"
    proto.graph.initializer.append(require("onnx").numpy_helper.from_array(values.astype(np.float32), name))
    weights[name] = proto.graph.initializer[-1]
    while len(node.input) < 3:
        node.input.append("")
    node.input[2] = name
