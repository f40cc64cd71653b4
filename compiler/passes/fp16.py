"""float32 -> float16 inside an ONNX graph, float32 at its edges: for GPUs whose fast path is fp16.

Jetson Nano's Maxwell GPU runs fp16 at twice its fp32 rate and has no useful int8 path (docs/targets.md), so its
artifact is fp16 rather than int8. TensorRT's `--fp16` would pick fp16 kernels from a float32 file too;
converting the file first halves what ships and lets the host measure fp16's drift before the device does.

Graph inputs and outputs stay float32 (one Cast after each input, one before each output), so application
code and the validation harness feed the same arrays as for the float model; ONNX Runtime's CPU provider runs
the result (it wraps kernels it lacks in float16 in casts of its own), which is how the host validates it.
Op inputs ONNX types as `tensor(float)` whatever the other inputs' type (`FLOAT32_INPUTS`, e.g. Resize's
`scales`) keep float32: a constant feeding one stays float32 (rounding 1/3 to fp16 could change Resize's output
size), a computed tensor gets a Cast back. Every other op the compiled models use (Conv, Gemm, MatMul, pooling,
BatchNormalization, Softmax, ...) accepts float16 for all its float inputs. Clip's bounds must have its input's
type: as constants they become float16 with it, and a float32 graph input used as a bound gets a Cast.

Values beyond fp16's range (|x| > 65504) are clamped and nonzero values below its smallest subnormal (~6e-8)
become zero; both are counted in the result, since either changes the model. Infinities and NaN stay.

Why not onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True)? Measured side by side
(onnxruntime 1.32): the same SQNR, size and casts on the demo (62.6 dB) and a MobileNetV2 0.5x at 96x96
(42.8 dB), but on a bilinear Resize by scale 1/3 it converts `scales` to float16 too, and the output grows from
9x9 to 10x10: a different model. It also reports nothing of what it clamped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError, require
from ..kinds import Model, OnnxModel
from .base import Context, Pass, PassResult

FLOAT, FLOAT16 = 1, 10  # onnx.TensorProto.FLOAT, FLOAT16
FP16_MAX = float(np.finfo(np.float16).max)  # 65504
# (op type) -> input positions the ONNX spec types as tensor(float) only, whatever the other inputs' type
FLOAT32_INPUTS: dict[str, tuple[int, ...]] = {"Resize": (2,), "Upsample": (1,)}


@dataclass(frozen=True)
class Fp16(Pass):
    name: ClassVar[str] = "fp16"
    accepts: ClassVar[str] = "onnx"
    produces: ClassVar[str] = "onnx"
    libraries: ClassVar[tuple[str, ...]] = ("onnx",)

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, OnnxModel)
        onnx = require("onnx")
        proto, initializers = model.editable_copy()
        graph = proto.graph
        if any(
            a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for a in n.attribute
        ):
            raise InputError("fp16: models with control flow (If/Loop/Scan subgraphs) are not supported")
        counts = {"float16_tensors": 0, "retyped": 0, "clamped": 0, "flushed_to_zero": 0}
        pinned = _pinned_float32(graph, initializers)
        for init in initializers.values():
            if init.data_type == FLOAT and init.name not in pinned:
                init.CopyFrom(_half(init, counts, onnx.numpy_helper))
        outputs = {o.name for o in graph.output}
        for node in graph.node:
            _retype_node(node, pinned, outputs, counts, onnx)
        counts["casts_inserted"] = _cast_edges(graph, pinned, onnx.helper)
        for value in [*graph.value_info, *(v for v in graph.input if v.name in initializers)]:
            if value.type.tensor_type.elem_type == FLOAT and value.name not in pinned | outputs:
                value.type.tensor_type.elem_type = FLOAT16
                counts["retyped"] += 1
        details = {**counts, "kept_float32": sorted(pinned - set(_graph_inputs(graph)))}
        if not any(counts.values()):  # no float32 inside the graph: already fp16, or an integer model
            return PassResult(model, False, details)
        proto = onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)  # types must agree
        onnx.checker.check_model(proto)
        return PassResult(OnnxModel(proto), True, details)


def _graph_inputs(graph: Any) -> list[str]:
    """Float32 graph inputs the application feeds (initializers listed as inputs excluded)."""
    initializers = {i.name for i in graph.initializer}
    return [v.name for v in graph.input if v.name not in initializers and v.type.tensor_type.elem_type == FLOAT]


def _pinned_float32(graph: Any, initializers: dict[str, Any]) -> set[str]:
    """Tensors that stay float32: graph inputs, and constants that are graph outputs or feed FLOAT32_INPUTS."""
    constants = {name for name, init in initializers.items() if init.data_type == FLOAT}
    constants |= {n.output[0] for n in graph.node if n.op_type == "Constant" and _constant_dtype(n) == FLOAT}
    needs_float32 = {o.name for o in graph.output}
    for node in graph.node:
        needs_float32 |= {node.input[i] for i in FLOAT32_INPUTS.get(node.op_type, ()) if i < len(node.input)}
    return set(_graph_inputs(graph)) | (constants & needs_float32)


def _constant_dtype(node: Any) -> int:
    attribute = node.attribute[0]  # a Constant node has exactly one attribute, its value
    if attribute.name == "value":
        return attribute.t.data_type
    return FLOAT if attribute.name in ("value_float", "value_floats") else 0


def _retype_node(node: Any, pinned: set[str], outputs: set[str], counts: dict[str, int], onnx: Any) -> None:
    """Float32 constants in attributes become float16, and so do the casts to float32 inside the graph (a cast
    producing a graph output is already the float32 edge)."""
    if node.op_type == "Cast":
        to = next(a for a in node.attribute if a.name == "to")
        if to.i == FLOAT and node.output[0] not in outputs:
            to.i = FLOAT16
            counts["retyped"] += 1
        return
    if node.op_type not in ("Constant", "ConstantOfShape") or node.output[0] in pinned:
        return
    for attribute in node.attribute:
        if attribute.name in ("value_float", "value_floats"):
            values = [attribute.f] if attribute.name == "value_float" else list(attribute.floats)
            shape = () if attribute.name == "value_float" else (len(values),)
            tensor = onnx.numpy_helper.from_array(np.array(values, np.float32).reshape(shape))
            attribute.CopyFrom(onnx.helper.make_attribute("value", _half(tensor, counts, onnx.numpy_helper)))
        elif attribute.name == "value" and attribute.t.data_type == FLOAT:
            attribute.t.CopyFrom(_half(attribute.t, counts, onnx.numpy_helper))


def _half(tensor: Any, counts: dict[str, int], numpy_helper: Any) -> Any:
    """The tensor in float16, clamped to fp16's range; counts what had to change beyond rounding."""
    array = numpy_helper.to_array(tensor)
    finite = np.isfinite(array)
    counts["clamped"] += int(np.count_nonzero(finite & (np.abs(array) > FP16_MAX)))
    half = np.where(finite, np.clip(array, -FP16_MAX, FP16_MAX), array).astype(np.float16)
    counts["flushed_to_zero"] += int(np.count_nonzero((array != 0) & (half == 0)))
    counts["float16_tensors"] += 1
    return numpy_helper.from_array(half, tensor.name)


def _cast_edges(graph: Any, pinned: set[str], helper: Any) -> int:
    """Insert the casts between float32 tensors and float16 consumers, in topological order; returns how many.

    A pinned tensor read by a float16 consumer gets one Cast to float16 (Cast consumers take any type); a
    computed (float16) tensor feeding a FLOAT32_INPUTS slot gets a Cast to float32; a float32 graph output
    computed in float16 is renamed inside the graph and cast back under its own name (unless a Cast already
    produces it: that Cast is the edge).
    """
    used = {n for node in graph.node for n in (*node.input, *node.output)}
    fresh = _namer(used | {v.name for v in graph.input} | {i.name for i in graph.initializer})
    nodes = list(graph.node)
    after = _casts_to_fp16(nodes, pinned, helper, fresh)  # index of the producer (-1: graph input) -> casts
    before = _casts_to_fp32(nodes, pinned, helper, fresh)  # index of the consumer -> casts
    tail = _casts_at_outputs(graph, nodes, helper, fresh)
    ordered = [*after.get(-1, [])]
    for index, node in enumerate(nodes):
        ordered += [*before.get(index, []), node, *after.get(index, [])]
    ordered = [_copied(n) for n in [*ordered, *tail]]
    graph.ClearField("node")
    graph.node.extend(ordered)
    return len(ordered) - len(nodes)


def _casts_to_fp16(nodes: list[Any], pinned: set[str], helper: Any, fresh: Any) -> dict[int, list[Any]]:
    producers = {out: index for index, node in enumerate(nodes) for out in node.output}
    after: dict[int, list[Any]] = {}
    for name in sorted(pinned):
        readers = [
            (node, i)
            for node in nodes
            for i, x in enumerate(node.input)
            if x == name and node.op_type != "Cast" and i not in FLOAT32_INPUTS.get(node.op_type, ())
        ]
        if not readers:
            continue
        cast = helper.make_node("Cast", [name], [fresh(f"{name}_fp16")], to=FLOAT16, name=fresh(f"{name}_to_fp16"))
        for node, i in readers:
            node.input[i] = cast.output[0]
        after.setdefault(producers.get(name, -1), []).append(cast)
    return after


def _casts_to_fp32(nodes: list[Any], pinned: set[str], helper: Any, fresh: Any) -> dict[int, list[Any]]:
    before: dict[int, list[Any]] = {}
    for index, node in enumerate(nodes):
        for i in FLOAT32_INPUTS.get(node.op_type, ()):
            if i < len(node.input) and node.input[i] and node.input[i] not in pinned:
                source = node.input[i]
                cast = helper.make_node(
                    "Cast", [source], [fresh(f"{source}_fp32")], to=FLOAT, name=fresh(f"{source}_to_fp32")
                )
                before.setdefault(index, []).append(cast)
                node.input[i] = cast.output[0]
    return before


def _casts_at_outputs(graph: Any, nodes: list[Any], helper: Any, fresh: Any) -> list[Any]:
    producers = {out: node for node in nodes for out in node.output}
    tail = []
    for output in graph.output:
        producer = producers.get(output.name)
        if output.type.tensor_type.elem_type != FLOAT or producer is None or producer.op_type == "Cast":
            continue
        inner = fresh(f"{output.name}_fp16")
        _rename(graph, nodes, output.name, inner)
        tail.append(helper.make_node("Cast", [inner], [output.name], to=FLOAT, name=fresh(f"{output.name}_to_fp32")))
    return tail


def _copied(node: Any) -> Any:
    """A detached copy, so clearing the graph's node list cannot touch it."""
    copy = type(node)()
    copy.CopyFrom(node)
    return copy


def _rename(graph: Any, nodes: list[Any], old: str, new: str) -> None:
    """Rename a computed tensor everywhere inside the graph (producer, consumers, value_info)."""
    for node in nodes:
        node.input[:] = [new if x == old else x for x in node.input]
        node.output[:] = [new if x == old else x for x in node.output]
    for value in graph.value_info:
        if value.name == old:
            value.name = new


def _namer(used: set[str]) -> Any:
    def fresh(base: str) -> str:
        name, n = base, 0
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        return name

    return fresh
