"""Fine-tuning after pruning: the ONNX graph run by torch matches ORT, training recovers, zeros stay zero."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from conftest import make_context, run_cli
from edgec.compiler.cache import cache_key
from edgec.compiler.data import Dataset
from edgec.compiler.errors import InputError
from edgec.compiler.frontends import SourceRequest, load_source
from edgec.compiler.frontends.demo import demo_split
from edgec.compiler.kinds import TorchModel
from edgec.compiler.onnx_torch import OnnxModule
from edgec.compiler.passes.cleanup import Cleanup
from edgec.compiler.passes.finetune import Finetune
from edgec.compiler.passes.prune import Prune
from edgec.compiler.passes.prune_channels import PruneChannels
from edgec.compiler.passes.torch_to_onnx import TorchToOnnx
from edgec.runtimes import metrics
from edgec.runtimes.onnxruntime_runner import OnnxRuntimeRunner


class PoolsAndGates(nn.Module):
    """Strided conv, MaxPool with padding, sigmoid gating and a Softmax head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8 * 2 * 2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = nn.functional.max_pool2d(x * torch.sigmoid(x), 3, stride=2, padding=1)
        return torch.softmax(self.fc(x.flatten(1)), dim=1)


def _pools_and_gates() -> nn.Module:
    torch.manual_seed(0)
    return PoolsAndGates().eval()


def _handmade_graph():
    """What exporters emit but torch-built test models do not: BatchNormalization, asymmetric pads, Transpose,
    Concat, Unsqueeze/Squeeze with axes as inputs, ReduceMean, Clip with constant bounds (opset 13)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)

    def const(name, values):
        return numpy_helper.from_array(np.asarray(values), name)

    nodes = [
        helper.make_node("Conv", ["image", "w"], ["c"], pads=[0, 1, 1, 2], strides=[1, 2]),
        helper.make_node("BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["n"], epsilon=1e-3),
        helper.make_node("Clip", ["n", "low", "high"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], pads=[0, 0, 1, 1]),
        helper.make_node("Transpose", ["p"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("Concat", ["t", "t"], ["cat"], axis=3),
        helper.make_node("ReduceMean", ["cat"], ["m"], axes=[1, 2], keepdims=0),
        helper.make_node("Unsqueeze", ["m", "axis"], ["u"]),
        helper.make_node("Squeeze", ["u", "axis"], ["out"]),
    ]
    initializers = [
        const("w", rng.normal(size=(4, 1, 3, 3)).astype(np.float32)),
        const("scale", rng.uniform(0.5, 2, 4).astype(np.float32)),
        const("shift", rng.normal(size=4).astype(np.float32)),
        const("mean", rng.normal(size=4).astype(np.float32)),
        const("var", rng.uniform(0.5, 2, 4).astype(np.float32)),
        const("low", np.float32(0.0)),
        const("high", np.float32(1.5)),
        const("axis", np.array([1], np.int64)),
    ]
    graph = helper.make_graph(
        nodes,
        "handmade",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 1, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 8])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _onnx(module: nn.Module):
    model = TorchModel(module, (torch.zeros(1, 1, 8, 8),), ("image",), type(module).__name__)
    return Cleanup().run(TorchToOnnx().run(model, make_context()).model, make_context()).model


@pytest.mark.parametrize("factory", ["make_inverted_with_head", "make_dead_pooled_channels", "gates", "handmade"])
def test_the_onnx_graph_run_by_torch_matches_onnxruntime(factory, tiny_data):
    import edgec_test_models

    if factory == "handmade":
        proto = _handmade_graph()
    else:
        module = _pools_and_gates() if factory == "gates" else getattr(edgec_test_models, factory)()
        proto = _onnx(module).proto
    reference = OnnxRuntimeRunner(proto.SerializeToString()).run({"image": tiny_data})[0]
    with torch.no_grad():
        ours = OnnxModule(proto)(torch.from_numpy(tiny_data))[0].numpy()
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)


def test_an_op_torch_cannot_run_is_named_before_training():
    from edgec_test_models import make_with_abs

    with pytest.raises(InputError, match=r"cannot run ONNX op\(s\) Abs in torch"):
        OnnxModule(_onnx(make_with_abs()).proto)


@pytest.fixture(scope="module")
def digits():
    model, _ = load_source(SourceRequest(None))
    dense = Cleanup().run(TorchToOnnx().run(model, make_context()).model, make_context()).model
    return dense, demo_split("calib"), demo_split("train"), demo_split("eval")


def _accuracy(model, data: Dataset) -> float:
    return metrics.accuracy(OnnxRuntimeRunner(model.to_bytes()).run(data.inputs)[0], data.labels)


def test_fine_tuning_recovers_what_channel_pruning_without_compensation_lost(digits):
    dense, calibration, training, evaluation = digits
    pruned = PruneChannels(ratio=0.5, recovery="none").run(dense, make_context(calibration)).model
    result = Finetune(epochs=5, learning_rate=3e-3).run(pruned, make_context(calibration, training=training))
    before, after = _accuracy(pruned, evaluation), _accuracy(result.model, evaluation)
    assert before < 0.5 < 0.95 < after  # collapsed by pruning, back within a few points of dense (99.4%)
    history = result.details["history"]
    assert len(history) == 5 and history[-1]["loss"] < history[0]["loss"]
    shapes = lambda m: [tuple(i.dims) for i in m.proto.graph.initializer]  # noqa: E731
    assert shapes(result.model) == shapes(pruned)  # the same pruned graph, new weights


def test_zero_weights_stay_zero_through_training(digits):
    dense, calibration, training, _ = digits
    sparse = Prune(sparsity=0.5, method="magnitude").run(dense, make_context(calibration)).model
    tuned = Finetune(epochs=1).run(sparse, make_context(calibration, training=training)).model
    from onnx import numpy_helper

    def zeros(model):
        return {i.name: numpy_helper.to_array(i) == 0 for i in model.proto.graph.initializer if len(i.dims) > 1}

    before, after = zeros(sparse), zeros(tuned)
    assert sum(z.sum() for z in before.values()) > 1000
    assert all(np.array_equal(before[name], after[name]) for name in before)
    changed = [
        name
        for name in before
        if not np.allclose(
            *(
                numpy_helper.to_array(next(i for i in m.proto.graph.initializer if i.name == name))
                for m in (sparse, tuned)
            )
        )
    ]
    assert changed  # and the kept weights did train


def test_training_data_is_part_of_the_cache_key(digits):
    dense = digits[0]
    assert cache_key(Finetune(), dense, None, "train-a") != cache_key(Finetune(), dense, None, "train-b")
    assert cache_key(Cleanup(), dense, None, "train-a") == cache_key(Cleanup(), dense, None, "train-b")


def test_finetune_without_labels_says_what_to_pass(digits):
    dense, calibration, _, _ = digits
    unlabelled = Dataset(calibration.inputs, None, "x")
    with pytest.raises(InputError, match="needs labelled training data"):
        Finetune().run(dense, make_context(calibration, training=unlabelled))


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--recover-epochs", "2"], "fine-tuning recovers what pruning cost; add --prune"),
        (["--prune", "structured:0.4", "--train", "t.npz"], "--recover-epochs N"),
        (["--prune", "structured:0.4", "--recover-epochs", "1", "--train", "nolabels.npz"], "no `labels` array"),
    ],
)
def test_fine_tuning_flags_fail_with_one_clear_line(tmp_path, flags, message):
    np.savez(tmp_path / "nolabels.npz", image=demo_split("calib").inputs["image"][:8])
    result = run_cli("compile", "--target", "rpi4", *flags, "-o", str(tmp_path / "out"), "--quiet", cwd=tmp_path)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
