"""quantize: the artifact is really int8 in the scheme asked for, and stays close to the float model."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, numpy_helper

from conftest import make_context
from edgec.compiler.data import Dataset
from edgec.compiler.errors import InputError, ToolchainError
from edgec.compiler.passes.quantize import Quantize
from edgec.runtimes import metrics
from edgec.runtimes.onnxruntime_runner import OnnxRuntimeExactRunner, OnnxRuntimeRunner


@pytest.fixture(scope="module")
def calibration(tiny_data):
    return Dataset({"image": tiny_data}, None, "tiny")


def _activation_zero_point_types(model) -> set[int]:
    """Element types of the zero points the QuantizeLinear nodes use on activations."""
    inits = {i.name: i for i in model.proto.graph.initializer}
    return {inits[n.input[2]].data_type for n in model.proto.graph.node if n.op_type == "QuantizeLinear"}


@pytest.mark.parametrize("activations, expected", [("uint8", TensorProto.UINT8), ("int8", TensorProto.INT8)])
def test_scheme_follows_the_options(tiny_onnx, calibration, activations, expected):
    model, _ = tiny_onnx
    result = Quantize(activations=activations).run(model, make_context(calibration))
    assert _activation_zero_point_types(result.model) == {expected}
    assert result.details["quantize_nodes"] >= 2 and result.details["int8_initializers"] >= 2
    # per-channel: the conv weight's scale has one entry per output channel
    inits = {i.name: numpy_helper.to_array(i) for i in result.model.proto.graph.initializer}
    conv_weight_dq = next(
        n
        for n in result.model.proto.graph.node
        if n.op_type == "DequantizeLinear" and inits.get(n.input[0]) is not None and inits[n.input[0]].ndim == 4
    )
    assert inits[conv_weight_dq.input[1]].shape == (8,)
    assert inits[conv_weight_dq.input[0]].dtype == np.int8


@pytest.mark.parametrize("method", ["minmax", "percentile", "entropy", "mse"])
def test_every_calibration_method_stays_close_to_float(tiny_onnx, calibration, tiny_data, method):
    model, _ = tiny_onnx
    result = Quantize(calibration=method).run(model, make_context(calibration))
    reference = OnnxRuntimeRunner(model.to_bytes()).run({"image": tiny_data})[0]
    # the QDQ model's own arithmetic, not this host's int8 kernels (AVX2-only x86 saturates: validation/kernels.py)
    quantized = OnnxRuntimeExactRunner(result.model.to_bytes()).run({"image": tiny_data})[0]
    assert metrics.sqnr_db(reference, quantized) > 20, method  # int8 on a tiny conv net: ~30 dB
    assert metrics.agreement(reference, quantized) >= 0.9


def test_excluded_nodes_stay_float(tiny_onnx, calibration):
    model, _ = tiny_onnx
    gemm = next(n.name for n in model.proto.graph.node if n.op_type == "Gemm")
    full = Quantize().run(model, make_context(calibration)).details["int8_initializers"]
    partial = Quantize(exclude_nodes=(gemm,)).run(model, make_context(calibration)).details["int8_initializers"]
    assert partial < full


def test_summary_lists_what_stayed_float(tiny_onnx, calibration):
    model, _ = tiny_onnx
    full = Quantize().run(model, make_context(calibration)).details
    assert full["quantized_compute_ops"] == 2 and full["float_compute_ops"] == []  # the Conv and the Gemm
    gemm = next(n.name for n in model.proto.graph.node if n.op_type == "Gemm")
    partial = Quantize(exclude_nodes=(gemm,)).run(model, make_context(calibration)).details
    assert partial["quantized_compute_ops"] == 1 and partial["float_compute_ops"] == [gemm]


def test_a_quantize_that_leaves_everything_float_is_an_error(tiny_onnx, calibration):
    model, _ = tiny_onnx
    everything = tuple(n.name for n in model.proto.graph.node)
    with pytest.raises(ToolchainError, match="left all 2 compute ops in float"):
        Quantize(exclude_nodes=everything).run(model, make_context(calibration))


def test_needs_calibration_data(tiny_onnx):
    with pytest.raises(InputError, match="--calib"):
        Quantize().run(tiny_onnx[0], make_context(None))


def test_requantizing_reuses_calibration_ranges(tiny_onnx, calibration, tmp_path, monkeypatch):
    """The fallback search re-quantizes with other exclusions: ranges come from the scratch cache, not new runs."""
    from edgec.compiler.passes import quantize

    model, _ = tiny_onnx
    gemm = next(n.name for n in model.proto.graph.node if n.op_type == "Gemm")
    ctx = make_context(calibration)
    ctx.scratch = tmp_path
    Quantize().run(model, ctx)
    assert len(list(tmp_path.glob("ranges-*.entry"))) == 1

    def no_calibration(self):
        raise AssertionError("calibration ran again")

    monkeypatch.setattr(quantize._Reader, "get_next", no_calibration)
    reused = Quantize(exclude_nodes=(gemm,)).run(model, ctx).model
    monkeypatch.undo()
    fresh = Quantize(exclude_nodes=(gemm,)).run(model, make_context(calibration)).model
    assert reused.to_bytes() == fresh.to_bytes()


def _activation_zero_points(model) -> list[int]:
    """The zero point of every QuantizeLinear (all on activations: weights are stored already quantized)."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.proto.graph.initializer}
    return [int(inits[n.input[2]]) for n in model.proto.graph.node if n.op_type == "QuantizeLinear"]


def test_symmetric_activations_put_every_zero_point_at_zero(tiny_onnx, calibration):
    """TensorRT's explicit quantization accepts only zero point 0; plain minmax puts ReLU outputs at -128."""
    model, _ = tiny_onnx
    symmetric = Quantize(activations="int8", symmetric_activations=True).run(model, make_context(calibration))
    asymmetric = Quantize(activations="int8").run(model, make_context(calibration))
    assert len(_activation_zero_points(symmetric.model)) >= 2 and set(_activation_zero_points(symmetric.model)) == {0}
    assert any(_activation_zero_points(asymmetric.model))


def test_biases_can_stay_float_for_tensorrt(tiny_onnx, calibration):
    """TensorRT's ONNX parser refuses a DequantizeLinear of int32, ONNX Runtime's default quantized bias."""
    model, _ = tiny_onnx
    biases = {n.input[2] for n in model.proto.graph.node if n.op_type in ("Conv", "Gemm")}

    def bias_types(quantized):
        types = {i.name: i.data_type for i in quantized.proto.graph.initializer}
        return {types[name] for name in biases if name in types}, sum(t == TensorProto.INT32 for t in types.values())

    # int32 biases and their int32 zero points, under new names
    assert bias_types(Quantize().run(model, make_context(calibration)).model) == (set(), 4)
    kept = Quantize(quantize_bias=False).run(model, make_context(calibration))
    assert bias_types(kept.model) == ({TensorProto.FLOAT}, 0) and kept.details["quantized_compute_ops"] == 2


def test_scheme_options_are_part_of_the_cache_key(tiny_onnx):
    from edgec.compiler.cache import cache_key

    model, _ = tiny_onnx
    variants = (Quantize(), Quantize(symmetric_activations=True), Quantize(quantize_bias=False))
    assert len({cache_key(q, model, "calibration-sha") for q in variants}) == 3


def test_schemes_with_other_weight_rounding_do_not_share_ranges(tiny_onnx, calibration, tmp_path):
    """Bias correction calibrates the corrected model, whose biases follow the weights' rounding: an x86-avx2
    (reduce_range) and an rpi4 (full range) quantization of one model must each get their own ranges, or the
    compile that writes first decides the other's artifact (seen as a sweep that differed run to run)."""
    model, _ = tiny_onnx
    shared = make_context(calibration)
    shared.scratch = tmp_path
    for reduce_range in (True, False):
        alone = Quantize(reduce_range=reduce_range).run(model, make_context(calibration)).model
        assert Quantize(reduce_range=reduce_range).run(model, shared).model.to_bytes() == alone.to_bytes()
    assert len(list(tmp_path.glob("ranges-*.entry"))) == 2


def test_an_opset_12_model_is_upgraded_so_its_per_channel_qdq_loads(tiny_torch, tiny_data, calibration, tmp_path):
    """ORT writes opset-13 QDQ (DequantizeLinear's axis) into the graph it is given: at opset 12 no runtime loaded
    the result. The pass upgrades first and says so."""
    import onnx
    import torch

    from edgec.compiler.kinds import OnnxModel

    path = tmp_path / "opset12.onnx"
    torch.onnx.export(tiny_torch, (torch.zeros(1, 1, 8, 8),), str(path), input_names=["image"], opset_version=12,
                      dynamic_axes={"image": {0: "n"}}, dynamo=False)  # fmt: skip
    model = OnnxModel(onnx.load(path))
    assert model.proto.opset_import[0].version == 12
    result = Quantize().run(model, make_context(calibration))
    assert result.details["opset_upgraded"] == [12, 13]
    assert {entry.version for entry in result.model.proto.opset_import if entry.domain == ""} == {13}
    runner = OnnxRuntimeExactRunner(result.model.to_bytes())
    float_runner = OnnxRuntimeRunner(path.read_bytes())
    got, want = runner.run({"image": tiny_data})[0], float_runner.run({"image": tiny_data})[0]
    assert metrics.sqnr_db(want, got) > 25
