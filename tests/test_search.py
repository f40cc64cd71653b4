"""The accuracy-budgeted fallback search on models where naive int8 fails, and cross-layer equalization."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from conftest import make_context
from edgec.compiler.api import CompileOptions, compile
from edgec.compiler.kinds import OnnxModel
from edgec.compiler.macs import node_macs
from edgec.compiler.passes.cleanup import Cleanup
from edgec.compiler.passes.equalize import Equalize
from edgec.compiler.pipeline import Overrides, plan_artifacts
from edgec.compiler.search import SearchLimits, unsearchable
from edgec.compiler.tflite_inspect import inspect_tflite
from edgec.runtimes.onnxruntime_runner import OnnxRuntimeRunner
from edgec.targets.profile import load_profile


def _compile(name, digits_npz, tmp_path, cache, **options):
    return compile(
        CompileOptions(
            source=f"edgec.models.hard:{name}",
            input_shapes=((1, 1, 8, 8),),
            calib=digits_npz["calib"],
            eval=digits_npz["eval"],
            output=tmp_path / name,
            cache_dir=cache,
            progress=False,
            **options,
        )
    )


def _search(result):
    (found,) = result.report["search"].values()
    return found


def test_sensitive_head_keeps_only_the_classifier_float(digits_npz, tmp_path, session_cache):
    result = _compile("make_sensitive_head_digits", digits_npz, tmp_path, session_cache)
    found = _search(result)
    naive = found["trials"][0]
    assert naive["stage"] == "naive int8" and not naive["passed"] and naive["accuracy_drop_points"] > 50
    assert result.passed and found["passed"]
    assert found["chosen"]["float_nodes"] == ["node_linear"] and found["chosen"]["float_mac_fraction"] < 0.2
    assert found["sensitivity"][0]["node"] == "node_linear"  # ranked most sensitive
    *features, logits = found["tensor_sqnr"]  # where the error enters: only at the classifier's output
    assert logits["sqnr_db"] < 5 and min(t["sqnr_db"] for t in features) > 25 and len(features) >= 5
    (artifact,) = result.report["artifacts"]
    assert artifact["quantization"]["float_compute_ops"] == ["node_linear"]
    assert artifact["evaluation"]["accuracy_drop_points"] <= 1.0
    assert "## Fallback search for `onnx`" in (result.path / "report.md").read_text()


@pytest.mark.slow
def test_saturated_gru_keeps_only_its_readout_float(digits_npz, tmp_path, session_cache):
    # x86-vnni: the same numbers from any x86 host (exact QDQ math where the host lacks VNNI); its output SQNR,
    # 10.7 dB whatever the compute ops' precision (its gates' activations stay int8), is near the 10 dB floor
    result = _compile("make_saturated_gru", digits_npz, tmp_path, session_cache, target="x86-vnni")
    found = _search(result)
    naive = found["trials"][0]
    assert naive["stage"] == "naive int8" and naive["accuracy_drop_points"] > 50
    assert result.passed and found["chosen"]["float_mac_fraction"] < 0.2
    (artifact,) = result.report["artifacts"]
    assert artifact["evaluation"]["accuracy_drop_points"] <= 1.0
    assert artifact["quantization"]["quantized_compute_ops"] >= 15  # conv, 15 unrolled GRU matmuls: int8
    assert artifact["evaluation"]["drift"]["sqnr_db"] >= 10.0


def test_tflite_search_keeps_only_the_classifier_float_and_formats_agree(digits_npz, tmp_path, session_cache):
    result = _compile("make_sensitive_head_digits", digits_npz, tmp_path, session_cache, target="rpi4")
    found = result.report["search"]["tflite"]
    assert not found["trials"][0]["passed"] and found["trials"][0]["accuracy_drop_points"] > 50
    assert result.passed and found["passed"] and found["chosen"]["float_mac_fraction"] < 0.2
    (kept,) = found["chosen"]["float_nodes"]
    assert found["sensitivity"][0]["node"] == kept
    tflite = next(a for a in result.report["artifacts"] if a["file"].endswith(".tflite"))
    assert tflite["evaluation"]["accuracy_drop_points"] <= 1.0
    summary = inspect_tflite((result.path / tflite["file"]).read_bytes())
    float_ops = [op.name for op in summary.ops if summary.tensors[op.outputs[0]].dtype == "float32"]
    assert sorted(float_ops) == ["DEQUANTIZE", "FULLY_CONNECTED"]  # every conv stays int8
    (pair,) = result.report["cross_format"]
    assert pair["agreement"] >= 0.98


def test_the_search_refuses_what_integer_io_targets_cannot_run():
    (coral,) = plan_artifacts(load_profile("coral-edgetpu"), Overrides())
    assert "integer IO (io=uint8)" in unsearchable(coral)
    rpi4 = plan_artifacts(load_profile("rpi4"), Overrides())
    assert [unsearchable(plan) for plan in rpi4] == ["", ""]
    floats = plan_artifacts(load_profile("rpi4"), Overrides(quantize=False))
    assert {unsearchable(plan) for plan in floats} == {"not an int8 artifact"}


def test_activation_outlier_is_fixed_by_equalization_with_everything_int8(digits_npz, tmp_path, session_cache):
    result = _compile("make_outlier_digits", digits_npz, tmp_path, session_cache)
    found = _search(result)
    assert not found["trials"][0]["passed"] and found["trials"][0]["accuracy_drop_points"] > 1.0
    assert result.passed and found["chosen"]["float_nodes"] == [] and found["chosen"]["float_mac_fraction"] == 0
    assert found["chosen"]["pipeline"] == "cleanup,equalize,quantize"
    assert "equalize" in result.report["artifacts"][0]["pipeline"]


def test_without_a_passing_candidate_the_best_effort_is_saved_and_fails(digits_npz, tmp_path, session_cache):
    strict = tmp_path / "strict.toml"  # a budget nothing can meet (CompileOptions refuses a negative max_drop)
    strict.write_text('extends = "host-x86"\n[budgets]\nmax_accuracy_drop = -5.0\n')
    result = _compile("make_sensitive_head_digits", digits_npz, tmp_path, session_cache, target=str(strict))
    found = _search(result)
    assert not result.passed and not found["passed"]
    assert (result.path / "make_sensitive_head_digits.int8.onnx").exists()  # the best effort is kept
    best = found["chosen"]
    assert best["accuracy_drop_points"] == min(t["accuracy_drop_points"] for t in found["trials"])


def test_search_is_bounded_and_can_be_switched_off(digits_npz, tmp_path, session_cache):
    limited = _compile(
        "make_sensitive_head_digits",
        digits_npz,
        tmp_path / "a",
        session_cache,
        search_limits=SearchLimits(seconds=300, trials=2),
    )
    assert _search(limited)["stopped_by"] == "trial budget (2)" and len(_search(limited)["trials"]) == 2
    off = _compile("make_sensitive_head_digits", digits_npz, tmp_path / "b", session_cache, search=False)
    assert off.report["search"] == {} and not off.passed


@pytest.fixture(scope="module")
def outlier_onnx(tmp_path_factory, session_cache, digits_npz):
    result = compile(
        CompileOptions(
            source="edgec.models.hard:make_outlier_digits",
            input_shapes=((1, 1, 8, 8),),
            calib=digits_npz["calib"],
            output=tmp_path_factory.mktemp("o") / "b",
            cache_dir=session_cache,
            progress=False,
            search=False,
            max_drop=100,
        )
    )
    return Cleanup().run(OnnxModel(onnx.load(result.path / "baseline.float32.onnx")), make_context()).model


def test_equalize_preserves_the_function_and_equalizes_ranges(outlier_onnx, digits_npz):
    result = Equalize().run(outlier_onnx, make_context())
    # conv1 -> relu -> conv2 qualifies, and so does conv2 -> relu -> maxpool -> conv3
    assert result.modified and result.details["pairs"] == ["node_Conv_51->node_Conv_53", "node_Conv_53->node_Conv_55"]
    x = np.load(digits_npz["eval"])["image"][:32]
    before = OnnxRuntimeRunner(outlier_onnx.to_bytes()).run({"input": x})[0]
    after = OnnxRuntimeRunner(result.model.to_bytes()).run({"input": x})[0]
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-4)
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in result.model.proto.graph.initializer}
    first, second, third = [n for n in result.model.proto.graph.node if n.op_type == "Conv"]
    r1 = np.abs(weights[first.input[1]]).reshape(32, -1).max(axis=1)
    r2 = np.abs(weights[second.input[1]]).max(axis=(0, 2, 3))
    np.testing.assert_allclose(r1, r2, rtol=1e-4)  # per channel, both sides now share one range
    r2_out = np.abs(weights[second.input[1]]).reshape(64, -1).max(axis=1)
    r3 = np.abs(weights[third.input[1]]).max(axis=(0, 2, 3))
    np.testing.assert_allclose(r2_out, r3, rtol=1e-4)  # and across the MaxPool


def test_equalize_handles_conv1d_pairs(tmp_path):
    """A raw-signal front end (Conv1d -> ReLU -> Conv1d): equalizing it raised numpy's AxisError and, inside the
    fallback search, killed the compile."""
    import torch

    from edgec_test_models import burst_signals, make_burst_detector

    path = tmp_path / "burst.onnx"
    torch.onnx.export(make_burst_detector(), (torch.zeros(1, 1, 256),), str(path), input_names=["signal"],
                      dynamic_axes={"signal": {0: "n"}}, dynamo=False)  # fmt: skip
    model = Cleanup().run(OnnxModel(onnx.load(path)), make_context()).model
    result = Equalize().run(model, make_context())
    assert result.modified and len(result.details["pairs"]) == 1
    signals, _ = burst_signals(32, seed=3)
    before = OnnxRuntimeRunner(model.to_bytes()).run({"signal": signals})[0]
    after = OnnxRuntimeRunner(result.model.to_bytes()).run({"signal": signals})[0]
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in result.model.proto.graph.initializer}
    first, second = [n for n in result.model.proto.graph.node if n.op_type == "Conv"]
    r1 = np.abs(weights[first.input[1]]).max(axis=(1, 2))
    r2 = np.abs(weights[second.input[1]]).max(axis=(0, 2))
    np.testing.assert_allclose(r1, r2, rtol=1e-4)


def test_equalize_is_a_no_op_without_conv_relu_conv(tiny_onnx):
    assert Equalize().run(tiny_onnx[0], make_context()).modified is False


def test_macs_match_hand_counts(outlier_onnx):
    macs = node_macs(outlier_onnx)
    # conv 1->32 3x3 on 8x8; conv 32->64 3x3 on 8x8; conv 64->128 3x3 on 4x4; linear 128->10
    assert sorted(macs.values()) == sorted([32 * 64 * 9, 64 * 64 * 32 * 9, 128 * 16 * 64 * 9, 128 * 10])


@pytest.mark.slow
def test_a_crashing_candidate_is_recorded_and_the_search_goes_on(digits_npz, tmp_path, monkeypatch):
    """Issue 23 item 7: cross-layer equalization once raised on a Conv1d weight and killed the compile. Any
    candidate's crash now becomes a failed candidate with its error."""

    def crash(self, model, ctx):
        raise ValueError("axis 3 is out of bounds for array of dimension 3")

    monkeypatch.setattr(Equalize, "run", crash)
    result = _compile("make_sensitive_head_digits", digits_npz, tmp_path, None, use_cache=False)
    found = _search(result)
    assert result.passed and found["passed"]
    (failed,) = [f for f in found["failed_candidates"] if f["stage"] == "equalize"]
    assert "ValueError: axis 3 is out of bounds" in failed["error"] and "equalize" in failed["error"]
