"""layer_inputs.rows: the im2col layout must reproduce the conv exactly, or OBS solves the wrong problem."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgec.compiler.kinds import OnnxModel
from edgec.compiler.layer_inputs import rows
from edgec.runtimes.onnxruntime_runner import OnnxRuntimeRunner


@pytest.mark.parametrize(
    "kernel, pads, strides, dilations",
    [((3, 3), (1, 1, 1, 1), (1, 1), (1, 1)), ((3, 2), (0, 1, 2, 0), (2, 1), (1, 2)), ((5,), (2, 2), (2,), (1,))],
)
def test_rows_times_filters_is_the_conv(kernel, pads, strides, dilations):
    rng = np.random.default_rng(0)
    spatial = (9, 7)[: len(kernel)]
    x = rng.normal(0, 1, (2, 3, *spatial)).astype(np.float32)
    w = rng.normal(0, 1, (4, 3, *kernel)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=pads, strides=strides, dilations=dilations)
    graph = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w")],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    y = OnnxRuntimeRunner(OnnxModel(proto).to_bytes()).run({"x": x})[0]
    patches = rows(node, x.astype(np.float64), kernel)
    out = patches @ w.reshape(4, -1).T.astype(np.float64)  # (N * positions, out)
    expected = np.moveaxis(y, 1, -1).reshape(-1, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
