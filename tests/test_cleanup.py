"""cleanup: BatchNorm folding and constant folding change the graph but not the numbers."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import make_context
from edgec.compiler.kinds import OnnxModel
from edgec.compiler.passes.cleanup import Cleanup
from edgec.runtimes.onnxruntime_runner import OnnxRuntimeRunner


def conv_bn_model() -> OnnxModel:
    """Conv -> BatchNormalization -> Relu, plus a foldable Add of two constants: what a raw exporter emits."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(size=(4, 1, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "b"),
        numpy_helper.from_array(rng.uniform(0.5, 1.5, 4).astype(np.float32), "scale"),
        numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "shift"),
        numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "mean"),
        numpy_helper.from_array(rng.uniform(0.5, 2, 4).astype(np.float32), "var"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["n"]),
        helper.make_node("Add", ["one", "one"], ["two"]),
        helper.make_node("Mul", ["n", "two"], ["m"]),
        helper.make_node("Relu", ["m"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])],
        inits,
    )
    return OnnxModel(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))


def _run(model: OnnxModel, x: np.ndarray) -> np.ndarray:
    return OnnxRuntimeRunner(model.to_bytes()).run({"x": x})[0]


@pytest.mark.parametrize("method", ["ort+onnxslim", "onnxslim", "ort"])
def test_folds_batchnorm_and_constants_without_changing_outputs(method):
    model = conv_bn_model()
    result = Cleanup(method=method).run(model, make_context())
    ops = result.model.op_counts()
    assert result.modified
    assert "BatchNormalization" not in ops and "Add" not in ops, ops
    assert result.details["nodes_after"] < result.details["nodes_before"]
    x = np.random.default_rng(1).random((4, 1, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(_run(result.model, x), _run(model, x), rtol=1e-5, atol=1e-5)
    onnx.checker.check_model(result.model.proto)


def test_none_method_only_infers_shapes_and_is_a_no_op_on_a_clean_model():
    once = Cleanup(method="none").run(conv_bn_model(), make_context()).model
    again = Cleanup(method="none").run(once, make_context())
    assert again.modified is False
    assert again.model.op_counts()["BatchNormalization"] == 1


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="method must be one of"):
        Cleanup(method="magic")
