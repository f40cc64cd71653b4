"""prune-channels: which channels can go, removed for real, and the mean of what went folded back in."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_context
from edgec.compiler.data import Dataset
from edgec.compiler.errors import InputError
from edgec.compiler.kinds import TorchModel
from edgec.compiler.passes.cleanup import Cleanup
from edgec.compiler.passes.prune_channels import PruneChannels
from edgec.compiler.passes.torch_to_onnx import TorchToOnnx
from edgec.runtimes.onnxruntime_runner import OnnxRuntimeRunner


def _onnx(factory):
    model = TorchModel(factory(), (torch.zeros(1, 1, 8, 8),), ("image",), factory.__name__)
    return Cleanup().run(TorchToOnnx().run(model, make_context()).model, make_context()).model


@pytest.fixture(scope="module")
def data(tiny_data):
    return Dataset({"image": tiny_data}, None, "tiny")


def _conv_shapes(model):
    inits = {i.name: tuple(i.dims) for i in model.proto.graph.initializer}
    return [inits[n.input[1]] for n in model.proto.graph.node if n.op_type == "Conv"]


def test_constant_channels_go_and_their_mean_is_folded_into_the_reader(data, tiny_data):
    from edgec_test_models import make_dead_channels

    model = _onnx(make_dead_channels)
    reference = OnnxRuntimeRunner(model.to_bytes()).run({"image": tiny_data})[0]
    result = PruneChannels(ratio=0.5, recovery="mean").run(model, make_context(data))
    assert _conv_shapes(result.model) == [(8, 1, 3, 3), (8, 8, 1, 1)]  # conv1 16 -> 8, conv2 reads 8
    assert result.details["params_after"] < result.details["params_before"]
    pruned = OnnxRuntimeRunner(result.model.to_bytes()).run({"image": tiny_data})[0]
    np.testing.assert_allclose(pruned, reference, rtol=1e-4, atol=1e-4)  # the dead (constant) half went
    uncompensated = PruneChannels(ratio=0.5, recovery="none").run(model, make_context(data)).model
    lost = OnnxRuntimeRunner(uncompensated.to_bytes()).run({"image": tiny_data})[0]
    assert np.abs(lost - reference).max() > 0.01  # without folding the mean back, the function changes


def test_channels_read_through_a_global_pool_leave_the_classifier_s_inputs_too(data, tiny_data):
    from edgec_test_models import make_dead_pooled_channels

    model = _onnx(make_dead_pooled_channels)
    reference = OnnxRuntimeRunner(model.to_bytes()).run({"image": tiny_data})[0]
    result = PruneChannels(ratio=0.5, recovery="mean").run(model, make_context(data))
    assert _conv_shapes(result.model) == [(8, 1, 3, 3)]
    gemm = next(n for n in result.model.proto.graph.node if n.op_type == "Gemm")
    inits = {i.name: tuple(i.dims) for i in result.model.proto.graph.initializer}
    assert inits[gemm.input[1]] == (10, 8)  # the Linear's 16 input features -> the 8 kept channels
    pruned = OnnxRuntimeRunner(result.model.to_bytes()).run({"image": tiny_data})[0]
    np.testing.assert_allclose(pruned, reference, rtol=1e-4, atol=1e-4)  # the constant half's mean is in the bias


def test_depthwise_chains_are_pruned_together_and_residual_outputs_are_left_whole(data, tiny_data):
    from edgec_test_models import make_inverted

    model = _onnx(make_inverted)
    result = PruneChannels(ratio=0.5, criterion="activation").run(model, make_context(data))
    # the residual stream ends in a Flatten: whole; expand's 32 hidden channels -> 16, and the depthwise and
    # project convs follow
    assert _conv_shapes(result.model) == [(8, 1, 3, 3), (16, 8, 1, 1), (16, 1, 3, 3), (8, 16, 1, 1)]
    assert list(result.details["channels"].values()) == ["32 -> 16"]
    output = OnnxRuntimeRunner(result.model.to_bytes()).run({"image": tiny_data})[0]
    assert output.shape == (len(tiny_data), 10) and np.isfinite(output).all()


def test_a_residual_stream_is_pruned_in_every_conv_that_makes_or_reads_it(data, tiny_data):
    from edgec_test_models import make_inverted_with_head

    model = _onnx(make_inverted_with_head)
    result = PruneChannels(ratio=0.5).run(model, make_context(data))
    # stream (stem + project make it, expand + head read it) 8 -> 4; hidden 32 -> 16
    stem, expand, depthwise, project, head = _conv_shapes(result.model)
    assert (stem[0], expand[1], project[0], head[1]) == (4, 4, 4, 4)
    assert (expand[0], depthwise[0], project[1]) == (16, 16, 16)
    output = OnnxRuntimeRunner(result.model.to_bytes()).run({"image": tiny_data})[0]
    assert output.shape == (len(tiny_data), 10) and np.isfinite(output).all()


def test_a_graph_with_nothing_removable_says_so(tiny_onnx, data):
    model, _ = tiny_onnx  # conv -> relu -> flatten -> linear: the conv's channels meet a Flatten
    with pytest.raises(InputError, match="found no conv whose output channels only feed other convs or Gemms"):
        PruneChannels().run(model, make_context(data))


def test_refit_recovers_more_than_the_mean_and_the_mean_more_than_nothing(data, tiny_data):
    from edgec_test_models import make_inverted_with_head

    model = _onnx(make_inverted_with_head)
    reference = OnnxRuntimeRunner(model.to_bytes()).run({"image": tiny_data})[0]
    errors = {}
    for recovery in ("none", "mean", "refit"):
        pruned = PruneChannels(ratio=0.5, recovery=recovery).run(model, make_context(data)).model
        output = OnnxRuntimeRunner(pruned.to_bytes()).run({"image": tiny_data})[0]
        errors[recovery] = float(np.mean((output - reference) ** 2))
    assert errors["refit"] < 0.6 * errors["mean"] and errors["mean"] < errors["none"], errors


def test_cost_allocation_takes_more_from_the_costlier_channels_for_the_same_total(data, tiny_data):
    from edgec_test_models import make_inverted_with_head

    model = _onnx(make_inverted_with_head)
    # per channel: the 8-channel stream costs 41,472 / 8 = 5,184 MACs (stem, project, expand, head), the
    # 32-channel hidden space 51,200 / 32 = 1,600 (expand, depthwise, project); 40% of 40 channels is 16
    uniform = PruneChannels(ratio=0.4, align=1).run(model, make_context(data)).model
    costed = PruneChannels(ratio=0.4, align=1, allocate="cost").run(model, make_context(data)).model
    stem, expand, *_ = _conv_shapes(uniform)
    assert (stem[0], expand[0]) == (5, 19)  # 3 + 13 removed: the same share in each
    stem, expand, *_ = _conv_shapes(costed)
    assert (stem[0], expand[0]) == (2, 22)  # the stream to its 75% cap (6), the hidden space the other 10
    output = OnnxRuntimeRunner(costed.to_bytes()).run({"image": tiny_data})[0]
    assert output.shape == (len(tiny_data), 10) and np.isfinite(output).all()
