"""prune: the sparsity asked for, zeros that survive int8, and what it buys stated in bytes."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import numpy_helper

from conftest import make_context
from edgec.compiler.data import Dataset
from edgec.compiler.errors import InputError
from edgec.compiler.kinds import OnnxModel
from edgec.compiler.passes.prune import Prune
from edgec.compiler.passes.quantize import Quantize
from edgec.runtimes.onnxruntime_runner import OnnxRuntimeRunner


@pytest.fixture(scope="module")
def calibration(tiny_data):
    return Dataset({"image": tiny_data}, None, "tiny")


def _weights(model, op_type):
    inits = {i.name: numpy_helper.to_array(i) for i in model.proto.graph.initializer}
    node = next(n for n in model.proto.graph.node if n.op_type == op_type)
    return inits[node.input[1]]


@pytest.mark.parametrize(
    "method, scope",
    [
        ("magnitude", "layer"),
        ("wanda", "output"),
        ("magnitude", "global"),
        ("sparsegpt", "layer"),
        ("sparsegpt", "output"),
    ],
)
def test_sparsity_is_what_was_asked_and_survives_int8(tiny_onnx, calibration, method, scope):
    model, _ = tiny_onnx
    result = Prune(sparsity=0.5, method=method, scope=scope, min_fan_in=0).run(model, make_context(calibration))
    sparsities = result.details["layer_sparsity"]
    total = sum(_weights(result.model, op).size for op in ("Conv", "Gemm"))
    zeros = sum(int((_weights(result.model, op) == 0).sum()) for op in ("Conv", "Gemm"))
    assert zeros / total == pytest.approx(0.5, abs=0.02)
    if scope != "global":
        # per output, the conv's 9 weights allow 4/9, not 1/2
        assert all(s == pytest.approx(0.5, abs=0.06) for s in sparsities.values()), sparsities
    assert result.details["compressed_bytes"] < result.details["compressed_bytes_before"]
    quantized = Quantize().run(result.model, make_context(calibration)).model
    float_zero = _weights(result.model, "Gemm") == 0
    inits = {i.name: numpy_helper.to_array(i) for i in quantized.proto.graph.initializer}
    gemm_weight_int8 = next(v for v in inits.values() if v.dtype == np.int8 and v.shape == float_zero.shape)
    assert np.all(gemm_weight_int8[float_zero] == 0)  # a pruned weight is an int8 zero


def test_wanda_keeps_weights_on_loud_inputs(tiny_onnx, calibration):
    """Same |W|, different input norms: activation-aware pruning must keep the loud input's weights."""
    model, _ = tiny_onnx
    gemm = _weights(model, "Gemm")
    magnitude = Prune(sparsity=0.5, method="magnitude", scope="output").run(model, make_context(calibration))
    wanda = Prune(sparsity=0.5, method="wanda", scope="output").run(model, make_context(calibration))
    # the two differ: input norms moved the choice (the tiny model's flattened features vary in scale)
    assert not np.array_equal(_weights(magnitude.model, "Gemm") == 0, _weights(wanda.model, "Gemm") == 0)
    assert gemm.shape == _weights(wanda.model, "Gemm").shape


def _output_error(model, pruned, data):
    reference = OnnxRuntimeRunner(model.to_bytes()).run({"image": data})[0]
    return float(np.mean((OnnxRuntimeRunner(pruned.to_bytes()).run({"image": data})[0] - reference) ** 2))


def test_sparsegpt_moves_the_kept_weights_to_lose_less_than_magnitude(tiny_onnx, calibration, tiny_data):
    model, _ = tiny_onnx
    errors = {}
    for method in ("magnitude", "sparsegpt"):
        pruned = Prune(sparsity=0.5, method=method, min_fan_in=0).run(model, make_context(calibration)).model
        errors[method] = _output_error(model, pruned, tiny_data)
        kept = _weights(pruned, "Gemm") != 0
        moved = not np.allclose(_weights(pruned, "Gemm")[kept], _weights(model, "Gemm")[kept])
        assert moved == (method == "sparsegpt")  # magnitude only zeroes; OBS updates what stays
    assert errors["sparsegpt"] < 0.5 * errors["magnitude"], errors


def test_sparsegpt_prunes_a_bias_free_matmul(calibration):
    """A MatMul has no bias to absorb the mean shift: OBS runs without the ones column, still beating magnitude."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(1)
    w = rng.normal(0, 1, (64, 16)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["image"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["out"])],
        "matmul",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 1, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 16])],
        [numpy_helper.from_array(w, "w")],
    )
    model = OnnxModel(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    onnx.checker.check_model(model.proto)
    data = calibration.inputs["image"]
    errors = {}
    for method in ("magnitude", "sparsegpt"):
        pruned = Prune(sparsity=0.5, method=method).run(model, make_context(calibration)).model
        assert float((_weights(pruned, "MatMul") == 0).mean()) == pytest.approx(0.5)
        assert len(pruned.proto.graph.initializer) == 1  # no bias invented for a MatMul
        errors[method] = _output_error(model, pruned, data)
    assert errors["sparsegpt"] < errors["magnitude"], errors


def test_small_fan_in_layers_stay_dense_by_default(tiny_onnx, calibration):
    model, _ = tiny_onnx  # conv: 1 channel x 3x3 = fan-in 9
    result = Prune(sparsity=0.5).run(model, make_context(calibration))
    assert [n for n in result.details["layer_sparsity"]] == [
        n.name for n in model.proto.graph.node if n.op_type == "Gemm"
    ]
    assert np.array_equal(_weights(result.model, "Conv"), _weights(model, "Conv"))


def test_excluded_layers_stay_dense_and_bad_options_are_refused(tiny_onnx, calibration):
    model, _ = tiny_onnx
    conv = next(n.name for n in model.proto.graph.node if n.op_type == "Conv")
    result = Prune(sparsity=0.5, exclude=(conv,), min_fan_in=0).run(model, make_context(calibration))
    assert conv not in result.details["layer_sparsity"]
    assert np.array_equal(_weights(result.model, "Conv"), _weights(model, "Conv"))
    with pytest.raises(InputError, match="no Conv, Gemm or MatMul"):
        Prune(exclude=("*",)).run(model, make_context(calibration))
    with pytest.raises(ValueError, match="scope must be layer or output"):
        Prune(method="sparsegpt", scope="global")
    with pytest.raises(InputError, match="needs calibration data"):
        Prune(method="wanda").run(model, make_context())
    with pytest.raises(ValueError, match="sparsity must be in"):
        Prune(sparsity=1.0)
