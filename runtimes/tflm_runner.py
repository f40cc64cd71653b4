"""TensorFlow Lite Micro runner: the microcontroller's own interpreter (its op resolver, memory planner and
reference kernels) built for the host by `pip install tflite-micro`.

A microcontroller artifact validated here has passed the interpreter the device runs, not LiteRT's: an op
TFLite Micro lacks, or an arena it cannot plan, fails here as it would on the board. The runner also reads
the tensor arena TFLite Micro really used (its RecordingMicroAllocator), the number an application sizes
`tensor_arena[]` by. numpy plus tflite_micro only, like every runner. Integer-IO models take and return floats
here, quantized and dequantized exactly as LiteRtRunner does.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .litert_runner import _dequantize, _quantize

# The host's arena: ample, because what the model needs is measured (arena_used_bytes), not assumed.
HOST_ARENA_BYTES = 64 << 20
_ALLOCATION = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def import_runtime() -> str:
    """The runtime this runner needs, imported: its version."""
    from tflite_micro.python.tflite_micro import runtime  # noqa: F401

    return f"tflite-micro {_version()}"


def _version() -> str:
    from tflite_micro.python.tflite_micro import _version as version

    return version.__version__


class TflmRunner:
    """One TFLite model in TFLite Micro's interpreter: single-threaded, batch 1 (rows run one at a time)."""

    runtime = "tflm"

    def __init__(self, model: bytes | str | Path, threads: int = 1, arena_size: int = HOST_ARENA_BYTES):
        from tflite_micro.python.tflite_micro import runtime

        self.version = import_runtime()
        self.content = model if isinstance(model, bytes) else Path(model).read_bytes()
        self.threads = 1  # TFLite Micro has no threads, whatever the profile says
        self._graph = _Graph(self.content)
        failed = None
        with _native_output() as captured:
            try:
                self.interpreter = runtime.Interpreter.from_bytes(self.content, arena_size=arena_size)
                self.interpreter.print_allocations()
            except RuntimeError as exc:
                failed = exc
        if failed is not None:  # the reason is in what TFLite Micro printed
            printed = [line for line in captured[0].splitlines() if line.strip()]
            raise RuntimeError(f"{failed}: {' | '.join(printed[-5:])}")
        found = {kind: int(n) for kind, n in _ALLOCATION.findall(captured[-1])}
        # total = head (the planned, non-persistent activations and scratch) + tail (persistent structures);
        # the same figure as MicroInterpreter::arena_used_bytes() on the device
        self.arena_used_bytes: int = found.get("total", 0)
        self.arena_planned_bytes: int = found.get("head", 0)
        self.arena_persistent_bytes: int = found.get("tail", 0)
        self._inputs = [_detail(self.interpreter.get_input_details(i)) for i in range(len(self._graph.inputs))]
        self._outputs = [_detail(self.interpreter.get_output_details(i)) for i in range(len(self._graph.outputs))]

    @property
    def input_names(self) -> list[str]:
        return [name for name, _ in self._graph.inputs]

    @property
    def fixed_batch(self) -> int | None:
        return self._graph.batch

    @property
    def ops(self) -> list[tuple[str, bool]]:
        """The execution plan: per operator, its builtin name and whether its first input is an integer."""
        return self._graph.ops

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        names = self.input_names
        batch, step = len(feeds[names[0]]), self._graph.batch
        quantized = [
            _quantize(np.asarray(feeds[name]), detail) for name, detail in zip(names, self._inputs, strict=True)
        ]
        rows: list[list[np.ndarray]] = [[] for _ in self._outputs]
        for start in range(0, batch, step):
            for index, values in enumerate(quantized):
                self.interpreter.set_input(np.ascontiguousarray(values[start : start + step]), index)
            self.interpreter.invoke()
            for index, collected in enumerate(rows):
                collected.append(np.array(self.interpreter.get_output(index)))
        outputs = [_dequantize(np.concatenate(r), d) for r, d in zip(rows, self._outputs, strict=True)]
        return [outputs[position] for position in self._graph.output_order]


class _Graph:
    """What the interpreter does not say about the model, read from the flatbuffer: IO names, batch, ops."""

    def __init__(self, content: bytes):
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

        model = schema.Model.GetRootAsModel(content, 0)
        graph = model.Subgraphs(0)
        types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
        builtins = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}

        def tensor(index: int) -> tuple[str, Any]:
            item = graph.Tensors(index)
            return item.Name().decode(), item

        self.inputs = [tensor(graph.Inputs(i)) for i in range(graph.InputsLength())]
        self.outputs = [tensor(graph.Outputs(i)) for i in range(graph.OutputsLength())]
        self.output_order = _signature_positions(model, [graph.Outputs(i) for i in range(graph.OutputsLength())])
        shape = self.inputs[0][1].ShapeAsNumpy() if self.inputs else np.zeros(0)
        self.batch = int(shape[0]) if len(shape) and shape[0] > 0 else 1
        self.ops: list[tuple[str, bool]] = []
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            name = builtins.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
            first = op.Inputs(0) if op.InputsLength() else -1
            kind = types.get(graph.Tensors(first).Type(), "") if first >= 0 else ""
            self.ops.append((name, "INT" in kind))


def _signature_positions(model: Any, output_tensors: list[int]) -> list[int]:
    """Positions in the subgraph's outputs, in the source model's order: the serving signature names them
    output_0, output_1, ... (see litert_runner.signature_output_order); the subgraph's own order otherwise."""
    natural = list(range(len(output_tensors)))
    if model.SignatureDefsLength() != 1:
        return natural
    signature = model.SignatureDefs(0)
    numbered = {}
    for i in range(signature.OutputsLength()):
        entry = signature.Outputs(i)
        found = re.fullmatch(r"output_(\d+)", entry.Name().decode())
        if not found or entry.TensorIndex() not in output_tensors:
            return natural
        numbered[int(found.group(1))] = output_tensors.index(entry.TensorIndex())
    return [numbered[k] for k in sorted(numbered)] if sorted(numbered) == natural else natural


def _detail(detail: dict[str, Any]) -> dict[str, Any]:
    """TFLite Micro's tensor details in LiteRT's form, for the shared quantize/dequantize helpers."""
    parameters = detail.get("quantization_parameters") or {}
    scales, zero_points = parameters.get("scales", ()), parameters.get("zero_points", ())
    quantization = (float(scales[0]), int(zero_points[0])) if len(scales) else (0.0, 0)
    return {"dtype": np.dtype(detail["dtype"]).type, "quantization": quantization}


@contextmanager
def _native_output() -> Iterator[list[str]]:
    """TFLite Micro prints (allocations, errors) from C on stderr: captured for the block, then restored.
    Yields a list that holds the text once the block ends."""
    captured: list[str] = []
    libc = ctypes.CDLL(None)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            libc.fflush(None)
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode(errors="replace"))
