"""Where int8 error enters an ONNX QDQ model: per-tensor SQNR with ONNX Runtime's QDQ debugging utilities.

The search's sensitivity ranking says which op to keep float; this says where the error appears: for every
activation tensor, in graph order, the SQNR of the int8 model's value against the float model's. The tensor
where it falls is where to look (a low-SQNR classifier output behind healthy features is a weight-scale
problem, a fall right after one conv is an outlier channel). ORT's own pre/post-QDQ comparison is not used:
with Relu folded into the quantizer, its "pre" tensor is not the one the pair quantizes.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..data import Dataset
from ..errors import require
from ..kinds import OnnxModel
from ..quiet import captured_native_output


def tensor_sqnr(float_model: OnnxModel, qdq_model: OnnxModel, data: Dataset, samples: int = 32) -> list[dict[str, Any]]:
    """Accumulated SQNR of each activation tensor, in the float graph's order, on the first `samples` of `data`."""
    debug = require("onnxruntime.quantization.qdq_loss_debug", extra="compiler")
    onnx = require("onnx")
    activations = {}
    with tempfile.TemporaryDirectory() as tmp, captured_native_output():
        for name, model in (("float", float_model), ("qdq", qdq_model)):
            plain, augmented = os.path.join(tmp, f"{name}.onnx"), os.path.join(tmp, f"{name}.debug.onnx")
            onnx.save(model.proto, plain)
            debug.modify_model_output_intermediate_tensors(plain, augmented)
            activations[name] = debug.collect_activations(augmented, _samples(data, samples))
    matching = debug.create_activation_matching(activations["qdq"], activations["float"])
    order = [(out, node.op_type) for node in float_model.proto.graph.node for out in node.output]
    rows = []
    for tensor, op in order:
        match = matching.get(tensor, {})
        if match.get("float") is not None and match.get("post_qdq") is not None:
            sqnr = debug.compute_signal_to_quantization_noice_ratio(match["float"], match["post_qdq"])
            rows.append({"tensor": tensor, "op": op, "sqnr_db": _finite(sqnr)})
    return rows


def _samples(data: Dataset, count: int) -> Iterator[dict[str, np.ndarray]]:
    """One sample per feed: collect_activations iterates its reader and stacks what each run returns."""
    for i in range(min(count, len(data))):
        yield {name: array[i : i + 1] for name, array in data.inputs.items()}


def _finite(value: float) -> float:
    """SQNR of an exact tensor is infinite; JSON has no infinity, so it is capped."""
    return round(min(float(value), 999.0), 3) if not math.isnan(value) else 0.0
