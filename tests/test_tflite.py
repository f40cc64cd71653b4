"""TFLite lowering: every mode gives what was asked, verified by reading the artifact back, offline."""

from __future__ import annotations

import dataclasses
import socket

import pytest
import torch

from conftest import make_context
from edgec.compiler.cache_store import read_scratch
from edgec.compiler.data import Dataset
from edgec.compiler.errors import InputError, ToolchainError
from edgec.compiler.kinds import TorchModel
from edgec.compiler.passes.onnx_to_tf import OnnxToTf
from edgec.compiler.passes.tflite import Tflite
from edgec.compiler.passes.torch_to_onnx import TorchToOnnx
from edgec.compiler.progress import Progress
from edgec.compiler.tflite_inspect import inspect_tflite
from edgec.compiler.validation.evaluate import run_model
from edgec.runtimes import metrics

MODES = [("float32", "float32"), ("dynamic", "float32"), ("int8", "float32"), ("int8", "int8"), ("int8", "uint8")]


@pytest.fixture(scope="module")
def tiny_tf(tiny_onnx):
    return OnnxToTf().run(tiny_onnx[0], make_context()).model


@pytest.fixture(scope="module")
def calibration(tiny_data):
    return Dataset({"image": tiny_data}, None, "tiny")


@pytest.fixture(scope="module")
def lowered(tiny_tf, calibration):
    return {(mode, io): Tflite(mode=mode, io=io).run(tiny_tf, make_context(calibration)).model for mode, io in MODES}


@pytest.fixture(scope="module")
def reference(tiny_onnx, calibration):
    return run_model("onnxruntime", tiny_onnx[0].to_bytes(), calibration, 1, Progress(False), "float")


def test_onnx2tf_moves_channels_last_and_records_it(tiny_tf):
    ((name, _, perm),) = tiny_tf.layout.inputs
    assert name == "image" and perm == (0, 2, 3, 1)


@pytest.mark.parametrize("mode, io", MODES)
def test_each_mode_is_what_was_asked_and_matches_the_baseline(lowered, reference, calibration, mode, io):
    artifact = lowered[(mode, io)]
    summary = inspect_tflite(artifact.flatbuffer)
    assert {t.dtype for t in summary.inputs + summary.outputs} == {io}
    floats = summary.float_activations()
    run = run_model("litert", artifact.flatbuffer, calibration, 1, Progress(False), mode, artifact.layout)
    if mode == "float32":
        assert floats and metrics.max_abs(reference.outputs, run.outputs) < 1e-4
    elif mode == "dynamic":
        assert floats and any(t.dtype == "int8" for t in summary.tensors.values())  # int8 weights, float math
        assert metrics.sqnr_db(reference.outputs, run.outputs) > 25
    else:
        assert floats == []  # every activation is int8
        assert ("QUANTIZE" in summary.op_counts) == (io != "int8")  # converting IO only where IO is not int8
        assert metrics.sqnr_db(reference.outputs, run.outputs) > 20
        assert metrics.agreement(reference.outputs, run.outputs) >= 0.9
    assert len(artifact.flatbuffer) < 0.5 * len(lowered[("float32", "float32")].flatbuffer) or mode == "float32"


def test_verification_catches_an_artifact_that_stayed_float(lowered):
    float_summary = inspect_tflite(lowered[("float32", "float32")].flatbuffer)
    with pytest.raises(ToolchainError, match=r"activation tensor\(s\) stayed float32"):
        Tflite(mode="int8").verify(float_summary)
    float_io = inspect_tflite(lowered[("int8", "float32")].flatbuffer)
    with pytest.raises(ToolchainError, match="IO should be int8 but"):
        Tflite(mode="int8", io="int8").verify(float_io)


def test_integer_io_needs_full_integer_mode():
    with pytest.raises(ValueError, match="io=int8 needs mode=int8"):
        Tflite(mode="dynamic", io="int8")
    with pytest.raises(ValueError, match="exclude_nodes needs mode=int8 with io=float32"):
        Tflite(mode="int8", io="int8", exclude_nodes=("x",))


def test_selective_quantization_keeps_exactly_the_named_op_float(tiny_tf, calibration, reference, tmp_path):
    ctx = dataclasses.replace(make_context(calibration), scratch=tmp_path)  # the calibrated model is kept there
    candidates = Tflite().candidates(tiny_tf, ctx)
    assert sorted(candidates.values()) == [8 * 8 * 8 * 9, 512 * 10]  # the 3x3 conv to 8 channels; the linear
    kept = min(candidates, key=candidates.get)
    artifact = Tflite(exclude_nodes=(kept,)).run(tiny_tf, ctx).model
    (entry,) = tmp_path.glob("calibrated-*.entry")
    assert read_scratch(entry) is not None  # published whole, with its sha256
    assert Tflite(exclude_nodes=(kept,)).run(tiny_tf, ctx).model.flatbuffer == artifact.flatbuffer  # reused
    summary = artifact.summary
    computed = {summary.tensors[op.outputs[0]].name: op.name for op in summary.ops}
    float_ops = {op.name for op in summary.ops if summary.tensors[op.outputs[0]].dtype == "float32"}
    assert "DEQUANTIZE" in float_ops and float_ops - {"DEQUANTIZE"} == {computed[n] for n in computed if kept in n}
    run = run_model("litert", artifact.flatbuffer, calibration, 1, Progress(False), "selective", artifact.layout)
    assert metrics.sqnr_db(reference.outputs, run.outputs) > 20
    with pytest.raises(InputError, match="no op outputs a tensor named 'nope'"):
        Tflite(exclude_nodes=("nope",)).run(tiny_tf, ctx)


def test_onnx_to_tf_never_reaches_the_network(monkeypatch):
    """A static 3-channel image input is exactly when onnx2tf downloads sample images; it must not."""
    from edgec_test_models import make_rgb

    model = TorchModel(make_rgb(), (torch.zeros(1, 3, 16, 16),), ("image",), "rgb")
    onnx_model = TorchToOnnx(dynamic_batch=False).run(model, make_context()).model

    def no_network(*_args, **_kwargs):
        raise AssertionError("edgec tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    tf_model = OnnxToTf(batch_size=1).run(onnx_model, make_context()).model
    flatbuffer = Tflite(mode="float32").run(tf_model, make_context()).model.flatbuffer
    assert inspect_tflite(flatbuffer).inputs[0].shape == (1, 16, 16, 3)
