"""fp16: weights and inner tensors in float16, float32 at the graph's edges, outputs as close as fp16 allows."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from conftest import make_context
from edgec.compiler.kinds import OnnxModel
from edgec.compiler.passes.fp16 import Fp16
from edgec.runtimes import metrics
from edgec.runtimes.onnxruntime_runner import OnnxRuntimeRunner

# Measured in ONNX Runtime against the float model: 65.6 dB (tiny) and 62.7 dB (demo) in fp16, while int8
# per-channel weights give 41.8 / 40.0 dB and bfloat16 weights 41.8 / 38.7 dB: 55 dB tells them apart.
MIN_SQNR_DB = 55.0
INTEGER_TYPES = (TensorProto.INT64, TensorProto.INT32, TensorProto.INT8, TensorProto.UINT8)


@pytest.fixture(scope="module")
def demo_onnx():
    """The demo model as the compiler's float baseline (exported, cleaned) and its evaluation images."""
    from edgec.compiler.frontends.demo import demo_split, load_demo
    from edgec.compiler.passes.cleanup import Cleanup
    from edgec.compiler.passes.torch_to_onnx import TorchToOnnx

    exported = TorchToOnnx().run(load_demo()[0], make_context()).model
    return Cleanup().run(exported, make_context()).model, demo_split("eval").inputs["image"]


@pytest.fixture(scope="module", params=["tiny", "demo"])
def converted(request, tiny_onnx, tiny_data, demo_onnx):
    """(name, float model, its fp16 result, inputs) for the tiny test model and the demo."""
    model, inputs = (tiny_onnx[0], tiny_data) if request.param == "tiny" else demo_onnx
    return request.param, model, Fp16().run(model, make_context()), inputs


def test_weights_are_float16_and_io_stays_float32(converted):
    _, model, result, _ = converted
    graph = result.model.proto.graph
    assert result.modified and {i.data_type for i in graph.initializer} <= {TensorProto.FLOAT16, *INTEGER_TYPES}
    assert sum(i.data_type == TensorProto.FLOAT16 for i in graph.initializer) == result.details["float16_tensors"] >= 4
    assert [v.type.tensor_type.elem_type for v in (*graph.input, *graph.output)] == [TensorProto.FLOAT] * 2
    assert [v.name for v in graph.input] == [v.name for v in model.proto.graph.input]  # the app feeds the same names
    assert [v.name for v in graph.output] == [v.name for v in model.proto.graph.output]
    assert TensorProto.FLOAT not in {v.type.tensor_type.elem_type for v in graph.value_info}
    first, last = graph.node[0], graph.node[-1]
    assert (first.op_type, first.input[0], first.attribute[0].i) == ("Cast", graph.input[0].name, TensorProto.FLOAT16)
    assert (last.op_type, last.output[0], last.attribute[0].i) == ("Cast", graph.output[0].name, TensorProto.FLOAT)
    assert result.details["casts_inserted"] == 2 and result.details["clamped"] == 0
    onnx.checker.check_model(result.model.proto, full_check=True)


# Weights are ~99% of the demo's file; the raw torch export of the tiny model also carries ~3 KB of per-node
# metadata that fp16 leaves as it is (21 KB of weights in 26 KB): halving the weights gives 0.504 and 0.604.
SIZE_RATIO = {"tiny": (0.59, 0.62), "demo": (0.495, 0.515)}


def test_file_size_halves(converted):
    name, model, result, _ = converted
    low, high = SIZE_RATIO[name]
    assert low < len(result.model.to_bytes()) / len(model.to_bytes()) < high


def test_outputs_match_the_float_model_in_onnxruntime(converted):
    _, model, result, inputs = converted
    feed = {model.inputs[0].name: inputs}
    reference = OnnxRuntimeRunner(model.to_bytes()).run(feed)[0]
    half = OnnxRuntimeRunner(result.model.to_bytes()).run(feed)[0]
    assert half.dtype == np.float32 and half.shape == reference.shape
    assert metrics.agreement(reference, half) >= 0.99
    assert metrics.sqnr_db(reference, half) > MIN_SQNR_DB


def test_a_float16_model_is_left_alone(converted):
    _, _, result, _ = converted
    again = Fp16().run(result.model, make_context())
    assert not again.modified and again.model is result.model
    assert again.details["float16_tensors"] == again.details["casts_inserted"] == 0


# Resize's `scales` are tensor(float) whatever X is; Clip's bounds must have X's type; `w` holds a value beyond
# fp16's range and `eps` one below its smallest subnormal; `y` is both an output and read inside the graph.
EDGES = """
<ir_version: 9, opset_import: ["" : 18]>
edges (float[1,2,4,4] x) => (float[1,2,8,8] y, float[1,2,16,16] z)
<float[4] scales = {1.0, 1.0, 2.0, 2.0}, float lo = {0.0}, float[2,1,1] w = {70000.0, 2.0}, float eps = {1e-9}>
{
    up = Resize <mode = "nearest"> (x, , scales)
    six = Constant <value_int = 6> ()
    hi = Cast <to = 1> (six)
    clipped = Clip (up, lo, hi)
    half = Constant <value_float = 0.5> ()
    scaled = Div (clipped, w)
    shifted = Add (scaled, eps)
    y = Mul (shifted, half)
    one = Constant <value_float = 1.0> ()
    computed_scales = Mul (scales, one)
    up2 = Resize <mode = "nearest"> (y, , computed_scales)
    z = Cast <to = 1> (up2)
}
"""


def test_float32_only_inputs_clip_bounds_casts_and_clamping():
    model = OnnxModel(onnx.parser.parse_model(EDGES))
    result = Fp16().run(model, make_context())
    graph = result.model.proto.graph
    inits = {i.name: i for i in graph.initializer}
    assert {name: i.data_type for name, i in inits.items()} == {
        "scales": TensorProto.FLOAT,  # rounding a scale to fp16 could change Resize's output size
        "lo": TensorProto.FLOAT16,
        "w": TensorProto.FLOAT16,
        "eps": TensorProto.FLOAT16,
    }
    assert numpy_helper.to_array(inits["w"]).tolist() == [[[65504.0]], [[2.0]]]
    assert numpy_helper.to_array(inits["eps"]).tolist() == 0.0
    details = result.details
    assert (details["clamped"], details["flushed_to_zero"], details["kept_float32"]) == (1, 1, ["scales"])
    nodes = {n.output[0]: n for n in graph.node}
    assert nodes["hi"].attribute[0].i == TensorProto.FLOAT16  # a cast inside the graph now makes float16
    assert nodes["z"].attribute[0].i == TensorProto.FLOAT  # the cast producing an output is already the edge
    assert numpy_helper.to_array(nodes["half"].attribute[0].t).dtype == np.float16
    assert nodes["up2"].input[2] == "computed_scales_fp32"  # computed in fp16, cast back for Resize
    assert nodes["computed_scales"].input[0] == "scales_fp16"  # the kept float32 constant, cast for Mul
    assert nodes["up"].input == ["x_fp16", "", "scales"] and nodes["y"].op_type == "Cast"
    assert details["casts_inserted"] == 4
    onnx.checker.check_model(result.model.proto, full_check=True)
    x = np.random.default_rng(0).normal(scale=10, size=(1, 2, 4, 4)).astype(np.float32)
    reference = OnnxRuntimeRunner(model.to_bytes()).run({"x": x})
    half = OnnxRuntimeRunner(result.model.to_bytes()).run({"x": x})
    for want, got in zip(reference, half, strict=True):
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got[:, 1], want[:, 1], rtol=1e-3, atol=1e-6)  # channel 1: fp16 rounding only
        np.testing.assert_allclose(got[:, 0], want[:, 0] * 70000 / 65504, rtol=1e-2, atol=1e-9)  # clamped divisor
