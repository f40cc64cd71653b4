"""Measure the arena LiteRT's own planner lays out, to hold the liveness estimate against.

With default delegates off, every activation and every kernel's scratch buffer lives in the interpreter's one
arena at the offset the planner chose; the span of those buffers after AllocateTensors is the memory the
planner really needs. Constants stay in the flatbuffer and are left out.
"""

from __future__ import annotations

from ...runtimes.litert_runner import load_interpreter_module
from ..quiet import captured_native_output


def planned_arena_bytes(flatbuffer: bytes) -> int:
    _, _, module = load_interpreter_module()
    resolver = module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    with captured_native_output():
        interpreter = module.Interpreter(model_content=flatbuffer, experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    written = {d["index"] for d in interpreter.get_input_details()} | {i for op in ops for i in op["outputs"]}
    constants = {i for op in ops for i in op["inputs"]} - written
    spans = []
    for detail in interpreter.get_tensor_details():
        if detail["index"] in constants:
            continue
        try:
            array = interpreter.tensor(detail["index"])()
        except ValueError:  # no buffer: an optional input or an unused temporary
            continue
        start = array.__array_interface__["data"][0]
        spans.append((start, start + array.nbytes))
    return max(end for _, end in spans) - min(start for start, _ in spans) if spans else 0
