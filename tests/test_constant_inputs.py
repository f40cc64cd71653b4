"""`--input NAME=VALUE`: a per-call scalar such as a sample rate, frozen into every artifact (issue 23 item 1)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import run_cli


@pytest.fixture(scope="module")
def with_sample_rate(tmp_path_factory):
    """audio [N, 16] and a scalar int64 `sr` (Silero's form): out = tanh(audio @ W) * sr / 16000."""
    folder = tmp_path_factory.mktemp("sr")
    weight = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["audio", "w"], ["mixed"]),
        helper.make_node("Tanh", ["mixed"], ["bounded"]),
        helper.make_node("Cast", ["sr"], ["rate"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["rate", "nominal"], ["scale"]),
        helper.make_node("Mul", ["bounded", "scale"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "with_sr",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["N", 16]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.array(16000.0, np.float32), "nominal")],
    )  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), folder / "vad.onnx")
    audio = np.random.default_rng(1).normal(size=(96, 16)).astype(np.float32)
    np.savez(folder / "calib.npz", audio=audio)
    np.savez(folder / "eval.npz", audio=audio[:48])
    return folder


def test_a_scalar_input_is_frozen_into_both_formats(with_sample_rate, tmp_path, session_cache):
    folder, out = with_sample_rate, tmp_path / "build"
    data = ["--calib", str(folder / "calib.npz"), "--eval", str(folder / "eval.npz")]
    done = run_cli("compile", str(folder / "vad.onnx"), "--target", "rpi4", "--input", "sr=8000", *data, "-o",
                   str(out), "--output-kind", "regression", cache=session_cache)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["baseline"]["frozen_inputs"] == [{"input": "sr", "value": 8000, "dtype": "int64", "shape": []}]
    assert "input sr frozen to 8000 (int64) in every artifact" in done.stdout
    assert {a["name"] for a in report["artifacts"]} == {"onnx", "tflite"}
    for artifact in report["artifacts"]:
        assert artifact["evaluation"]["drift"]["sqnr_db"] > 30
    baseline = onnx.load(out / "baseline.float32.onnx")
    assert [i.name for i in baseline.graph.input] == ["audio"]  # the device calls it without sr
    import onnxruntime as ort

    audio = np.load(folder / "eval.npz")["audio"][:4]
    (got,) = ort.InferenceSession(str(out / "baseline.float32.onnx")).run(None, {"audio": audio})
    weight = numpy_helper.to_array(next(i for i in baseline.graph.initializer if i.name == "w"))
    np.testing.assert_allclose(got, np.tanh(audio @ weight) * 0.5, rtol=1e-5, atol=1e-6)  # 8000 / 16000


def test_without_the_flag_a_scalar_input_is_one_line_naming_it(with_sample_rate, tmp_path):
    folder = with_sample_rate
    done = run_cli("compile", str(folder / "vad.onnx"), "--calib", str(folder / "calib.npz"), "-o", str(tmp_path / "x"),
                   "--no-cache")  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "no array for model input(s) ['sr']" in lines[0] and "--input sr=VALUE" in lines[0]


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("rate=8000", r"the model has no input 'rate'; its inputs: audio, sr"),
        ("sr=8000.5", r"sr is int64; give a whole number"),
        ("audio=1", r"audio has a batch or dynamic dimension"),
        ("sr=fast", r"'fast' is not a number"),
    ],
)
def test_a_wrong_constant_is_one_clear_error(with_sample_rate, tmp_path, flag, message):
    from edgec.compiler.api import CompileOptions, compile
    from edgec.compiler.errors import InputError

    folder = with_sample_rate
    with pytest.raises(InputError, match=message):
        compile(CompileOptions(source=str(folder / "vad.onnx"), calib=folder / "calib.npz", output=tmp_path / "x",
                               use_cache=False, progress=False, constants=(tuple(flag.split("=")),)))  # fmt: skip
