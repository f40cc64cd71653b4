"""Where along the graph an int8 artifact parts from its float self: SQNR per layer, and the first that diverges.

The pass-by-pass drift says quantization cost the points; this says where. Every activation of the int8
model is compared with the same tensor of the float model it was quantized from, in execution order: ONNX
through ONNX Runtime's QDQ debugging (tensor_error.py), TFLite through LiteRT with every tensor preserved
(the delegate off, so intermediate tensors exist) against the float32 conversion of the same SavedModel,
matched by tensor name. A layer *diverges* when its SQNR falls under DIVERGED_DB (int8 done well keeps
activations near 30-40 dB; 20 dB is noise at a tenth of the signal); when none does, the layer where SQNR
falls the most is named instead, and the rule that chose it is written beside it.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ...runtimes.layout import artifact_inputs
from ...runtimes.litert_runner import load_interpreter_module
from ..data import Dataset
from ..kinds import Model, OnnxModel
from ..quiet import captured_native_output
from .tensor_error import tensor_sqnr

DIVERGED_DB = 20.0
SAMPLES = 32


def layer_trace(float_model: Model, int8_model: Model, data: Dataset) -> dict[str, Any]:
    """Per-tensor SQNR of `int8_model` against `float_model` (both ONNX, or both TFLite) and the diverging layer."""
    if isinstance(float_model, OnnxModel) and isinstance(int8_model, OnnxModel):
        rows = tensor_sqnr(float_model, int8_model, data, SAMPLES)
    else:
        rows = tflite_tensor_sqnr(float_model.artifact_bytes(), int8_model.artifact_bytes(), int8_model, data)
    return {
        "samples": min(SAMPLES, len(data)),
        "threshold_db": DIVERGED_DB,
        "tensors": rows,
        "first_diverging": first_diverging(rows),
    }


def first_diverging(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first tensor under DIVERGED_DB, else the one whose SQNR fell most from the tensor before it."""
    below = next((row for row in rows if row["sqnr_db"] < DIVERGED_DB), None)
    if below is not None:
        return {**below, "rule": f"first tensor under {DIVERGED_DB:g} dB"}
    if not rows:
        return None
    falls = [(previous["sqnr_db"] - row["sqnr_db"], row) for previous, row in itertools.pairwise(rows)]
    fall, row = max(falls, key=lambda pair: pair[0], default=(0.0, rows[0]))
    return {**row, "rule": f"none under {DIVERGED_DB:g} dB; the largest fall along the graph ({fall:.1f} dB)"}


def tflite_tensor_sqnr(float_tflite: bytes, int8_tflite: bytes, int8_model: Model, data: Dataset) -> list[dict]:
    """Accumulated SQNR of each int8 activation against the float tensor of the same name, in execution order."""
    _, _, module = load_interpreter_module()
    interpreters = {}
    with captured_native_output():
        for name, content in (("float", float_tflite), ("int8", int8_tflite)):
            interpreters[name] = module.Interpreter(
                model_content=content,
                experimental_op_resolver_type=module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                experimental_preserve_all_tensors=True,
            )
            interpreters[name].allocate_tensors()
    float_tensors = {d["name"]: d["index"] for d in interpreters["float"].get_tensor_details()}
    order = _execution_order(interpreters["int8"], set(float_tensors))
    signal, noise = dict.fromkeys(order, 0.0), dict.fromkeys(order, 0.0)
    samples = min(SAMPLES, len(data))
    inputs = artifact_inputs({k: v[:samples] for k, v in data.inputs.items()}, getattr(int8_model, "layout", None))
    for i in range(samples):
        for interpreter in interpreters.values():
            for detail in interpreter.get_input_details():  # by name: the flatbuffer may list inputs permuted
                array = inputs[detail["name"]] if len(inputs) > 1 else next(iter(inputs.values()))
                interpreter.set_tensor(detail["index"], array[i : i + 1].astype(detail["dtype"]))
            interpreter.invoke()
        for name, (index, _, scale, zero) in order.items():
            reference = interpreters["float"].get_tensor(float_tensors[name]).astype(np.float64)
            value = interpreters["int8"].get_tensor(index).astype(np.float64)
            value = (value - zero) * scale if scale else value
            signal[name] += float((reference**2).sum())
            noise[name] += float(((reference - value) ** 2).sum())
    return [
        {"tensor": name, "op": op, "sqnr_db": _db(signal[name], noise[name])} for name, (_, op, _, _) in order.items()
    ]


def _execution_order(interpreter: Any, names: set[str]) -> dict[str, tuple[int, str, float, int]]:
    """Output tensors of the int8 model's ops in the order they run, with the producing op and the
    dequantization parameters, kept only where the float model has a tensor of that name."""
    details = interpreter.get_tensor_details()
    order = {}
    for op in interpreter._get_ops_details():  # LiteRT's only view of the execution order
        for index in op["outputs"]:
            detail = details[index]
            scale, zero = detail["quantization"]
            if detail["name"] in names:
                order[detail["name"]] = (index, op["op_name"], float(scale), int(zero))
    return order


def _db(signal: float, noise: float) -> float:
    """SQNR capped at 999 dB: an exact tensor is infinite and JSON has no infinity."""
    if noise == 0:
        return 999.0
    return round(min(10 * math.log10(signal / noise), 999.0), 3) if signal > 0 else 0.0
