"""Read a .tflite flatbuffer back: its ops, tensors and IO, to verify it and to check target constraints.

Converters do not verify their output (a known failure of the field: "int8" exports that stayed float), so
every TFLite artifact is read back through the interpreter that will run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..runtimes.litert_runner import load_interpreter_module
from .quiet import captured_native_output


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    signature: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class OpInfo:
    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class TfliteSummary:
    ops: tuple[OpInfo, ...]
    tensors: dict[int, TensorInfo]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    @property
    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.name] = counts.get(op.name, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def activations(self) -> set[int]:
        """Tensors computed at run time: graph inputs and op outputs (the rest are constants)."""
        return {t.index for t in self.inputs} | {i for op in self.ops for i in op.outputs}

    def float_activations(self) -> list[TensorInfo]:
        """Float tensors inside the graph (graph IO excluded): empty for a fully integer model."""
        io = {t.index for t in self.inputs + self.outputs}
        return [self.tensors[i] for i in sorted(self.activations - io) if self.tensors[i].dtype == "float32"]


def inspect_tflite(flatbuffer: bytes) -> TfliteSummary:
    _, _, module = load_interpreter_module()
    with captured_native_output():
        interpreter = module.Interpreter(model_content=flatbuffer)
    tensors = {d["index"]: _tensor(d) for d in interpreter.get_tensor_details()}
    ops = tuple(
        OpInfo(op["index"], op["op_name"], tuple(i for i in op["inputs"] if i >= 0), tuple(op["outputs"]))
        for op in interpreter._get_ops_details()
    )
    inputs = tuple(tensors[d["index"]] for d in interpreter.get_input_details())
    outputs = tuple(tensors[d["index"]] for d in interpreter.get_output_details())
    return TfliteSummary(ops, tensors, inputs, outputs)


def _tensor(detail: dict[str, Any]) -> TensorInfo:
    signature = detail.get("shape_signature", detail["shape"])
    return TensorInfo(
        detail["index"],
        detail["name"],
        np.dtype(detail["dtype"]).name,
        tuple(int(d) for d in detail["shape"]),
        tuple(int(d) for d in signature),
    )
