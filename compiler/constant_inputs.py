"""`--input NAME=VALUE`: an input that is the same on every call (a sample rate, a mode flag), frozen into the model.

A voice detector with a scalar int64 `sr` input next to its audio cannot be given as rows of a data file (a
rank-0 input has no batch axis to stack samples along), and every converter and runtime handles a constant
better than a per-call scalar. So the declared value replaces the input in the float baseline: the input
becomes an initializer, every artifact is built from that graph, and the report lists what was frozen, so
the device code knows to call the model without it.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .kinds import OnnxModel, TensorSpec


def frozen(baseline: OnnxModel, constants: tuple[tuple[str, str], ...]) -> tuple[OnnxModel, list[dict[str, object]]]:
    """The baseline with each declared input replaced by its value; and what was frozen, for the report."""
    if not constants:
        return baseline, []
    from onnx import numpy_helper

    specs = {spec.name: spec for spec in baseline.inputs}
    proto, _ = baseline.editable_copy()
    record = []
    for name, text in constants:
        if name not in specs:
            raise InputError(f"--input {name}={text}: the model has no input {name!r}; its inputs: {', '.join(specs)}")
        value = _value(specs[name], text)
        kept = [i for i in proto.graph.input if i.name != name]
        del proto.graph.input[:]
        proto.graph.input.extend(kept)
        proto.graph.initializer.append(numpy_helper.from_array(value, name))
        record.append({"input": name, "value": value.tolist(), "dtype": value.dtype.name, "shape": list(value.shape)})
    if not [i for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]:
        raise InputError("--input: every input is frozen; at least one must come from the data")
    return OnnxModel(proto), record


def _value(spec: TensorSpec, text: str) -> np.ndarray:
    dims = ([spec.batch] if spec.batch is not None else []) + list(spec.shape)
    if not all(isinstance(d, int) for d in dims):
        raise InputError(
            f"--input {spec.name}={text}: {spec.name} has a batch or dynamic dimension {tuple(dims)}; only an input "
            "of fixed shape (a scalar such as a sample rate) can be frozen: give the others in the data files"
        )
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"--input {spec.name}={text}: {text!r} is not a number") from None
    dtype = np.dtype(spec.dtype)
    if dtype.kind in "iu" and not number.is_integer():
        raise InputError(f"--input {spec.name}={text}: {spec.name} is {dtype.name}; give a whole number")
    return np.full([int(d) for d in dims], number, dtype=dtype)  # type: ignore[arg-type]
