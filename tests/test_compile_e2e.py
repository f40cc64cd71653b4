"""edgec compile end to end: the acceptance numbers on the demo, the cache, the gate, and bad inputs."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import pytest

from conftest import run_cli
from edgec.compiler.report import SCHEMA_VERSION


def test_demo_meets_the_acceptance_numbers(demo_build):
    report = demo_build.report
    onnx_artifact, tflite_artifact = report["artifacts"]
    assert demo_build.passed and report["schema_version"] == SCHEMA_VERSION
    for artifact in (onnx_artifact, tflite_artifact):
        assert artifact["precision"] == "int8" and artifact["size_ratio"] <= 0.30, artifact["file"]
        evaluation = artifact["evaluation"]
        assert evaluation["samples"] == 360 and evaluation["accuracy_drop_points"] <= 1.0
        assert evaluation["float_accuracy"] >= 0.97 and evaluation["drift"]["sqnr_db"] > 20
    artifact = onnx_artifact
    assert artifact["quantization"]["quantize_nodes"] > 0 and artifact["quantization"]["int8_initializers"] >= 4
    assert artifact["quantization"]["quantized_compute_ops"] == 4 and not artifact["quantization"]["float_compute_ops"]
    assert report["data"]["evaluation"]["source"] == "built-in digits eval split"
    assert tflite_artifact["runtime"] == "litert" and tflite_artifact["conversion"]["float_activations"] == 0
    assert tflite_artifact["evaluation"]["runtime_version"].startswith("ai_edge_litert ")
    (parity,) = report["cross_format"]  # the same model in two formats must tell the same story
    assert parity["pair"] == ["onnx", "tflite"] and parity["agreement"] >= 0.98 and parity["cosine"] > 0.999
    parity = report["baseline"]["export_parity"]  # the export itself is verified against torch
    assert parity["samples"] == 64 and parity["max_abs"] < 1e-4 and parity["agreement"] == 1.0


def test_demo_build_folder_is_complete_and_hashed(demo_build):
    files = {p.name for p in demo_build.path.iterdir()}
    expected = {
        "report.json",
        "report.md",
        "manifest.json",
        "baseline.float32.onnx",
        "digits-cnn.int8.onnx",
        "digits-cnn.int8.tflite",
    }
    assert expected <= files
    manifest = json.loads((demo_build.path / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((demo_build.path / name).read_bytes()).hexdigest() == entry["sha256"], name
    assert manifest["pipeline"]["onnx"].startswith("cleanup{method=ort+onnxslim},quantize{calibration=minmax,")
    assert manifest["tools"]["onnxruntime"] and manifest["inputs"]["calibration"]
    assert "| `digits-cnn.int8.onnx` | int8 |" in (demo_build.path / "report.md").read_text()


def test_rpi4_artifact_uses_signed_activations(demo_build):
    model = onnx.load(demo_build.path / "digits-cnn.int8.onnx")
    inits = {i.name: i.data_type for i in model.graph.initializer}
    zero_points = {inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"}
    assert zero_points == {onnx.TensorProto.INT8}


@pytest.mark.slow
def test_second_identical_compile_reuses_every_pass(tmp_path):
    out, cache = tmp_path / "demo", tmp_path / "cache"
    first = run_cli("compile", "--target", "rpi4", "-o", str(out), cache=cache)
    assert first.returncode == 0, first.stderr
    assert "5 ran (torch-to-onnx, cleanup, quantize, onnx-to-tf, tflite)" in first.stdout
    second = run_cli("compile", "--target", "rpi4", "-o", str(out), "--force", cache=cache)
    assert second.returncode == 0, second.stderr
    assert "cache: 6 pass(es) reused (torch-to-onnx, cleanup, quantize, cleanup, onnx-to-tf, tflite); 0 ran" in (
        second.stdout
    )
    report = json.loads((out / "report.json").read_text())
    assert all(rec["cached"] for art in report["artifacts"] for rec in report["import"] + art["passes"])


def test_onnx_source_with_user_data_for_host(tmp_path, demo_build, digits_npz, session_cache):
    out = tmp_path / "host"
    result = run_cli(
        "compile",
        str(demo_build.path / "baseline.float32.onnx"),
        "--target",
        "host-x86",
        "--calib",
        str(digits_npz["calib"]),
        "--eval",
        str(digits_npz["eval"]),
        "-o",
        str(out),
        "--calibration",
        "percentile",
        cache=session_cache,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    artifact = report["artifacts"][0]
    assert report["source"]["kind"] == "onnx" and report["target"]["quantization"]["activations"] == "uint8"
    assert report["baseline"]["export_parity"] is None
    assert "calibration=percentile" in artifact["pipeline"] and "activations=uint8" in artifact["pipeline"]
    assert artifact["evaluation"]["accuracy_drop_points"] <= 1.0


def test_factory_without_eval_holds_back_calibration_and_gates_on_agreement(tmp_path, tiny_data, session_cache):
    np.savez(tmp_path / "calib.npz", input=tiny_data)
    out = tmp_path / "tiny"
    result = run_cli(
        "compile",
        "edgec_test_models:make_tiny",
        "--input-shape",
        "1,1,8,8",
        "--calib",
        str(tmp_path / "calib.npz"),
        "-o",
        str(out),
        "--min-agreement",
        "0.75",
        cache=session_cache,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["evaluation"]["held_out"] and report["data"]["evaluation"]["samples"] == 13
    assert report["data"]["calibration"]["samples"] == 51
    check, sqnr, latency = report["gate"]["checks"]
    assert check["metric"] == "agreement" and check["limit"] == 0.75 and check["passed"]
    assert sqnr["metric"] == "sqnr_db" and sqnr["limit"] == 10.0 and sqnr["passed"]  # the profile's floor
    assert latency["metric"] == "estimated_latency_ms" and latency["passed"]  # host-x86: 20 ms
    assert check["value"] >= 0.75  # random weights on random data: ~12 of 13 held-back samples agree


def test_no_quantize_gives_a_float_artifact_identical_to_baseline(tmp_path, demo_build, digits_npz, session_cache):
    out = tmp_path / "float"
    result = run_cli(
        "compile",
        str(demo_build.path / "baseline.float32.onnx"),
        "--no-quantize",
        "--eval",
        str(digits_npz["eval"]),
        "-o",
        str(out),
        cache=session_cache,
    )
    assert result.returncode == 0, result.stderr
    artifact = json.loads((out / "report.json").read_text())["artifacts"][0]
    assert artifact["precision"] == "float32" and artifact["size_ratio"] > 0.95
    assert artifact["evaluation"]["drift"]["agreement"] == 1.0 and artifact["evaluation"]["drift"]["max_abs"] < 1e-4


def test_gate_failure_exits_1_and_keeps_the_good_build(tmp_path, demo_build, digits_npz, session_cache):
    model = str(demo_build.path / "baseline.float32.onnx")
    out = tmp_path / "gated"
    args = ["compile", model, "--calib", str(digits_npz["calib"]), "--eval", str(digits_npz["eval"]), "-o", str(out)]
    assert run_cli(*args, cache=session_cache).returncode == 0
    strict = tmp_path / "strict.toml"  # a budget nothing can meet (--max-drop refuses a negative one)
    strict.write_text('extends = "host-x86"\n[budgets]\nmax_accuracy_drop = -1.0\n')
    failed = run_cli(*args, "--force", "--target", str(strict), cache=session_cache)
    assert failed.returncode == 1
    assert "drift gate failed: onnx: accuracy_drop_points" in failed.stderr
    assert "(budget <= -1) OVER BUDGET" in failed.stderr
    assert json.loads((out / "report.json").read_text())["gate"]["passed"] is True  # the good build survives
    assert json.loads((tmp_path / "gated.failed" / "report.json").read_text())["gate"]["passed"] is False


def _bad_input(tmp_path, digits_npz, demo_build):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x0a\xff" * 100)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, image=np.zeros((10, 1, 28, 28), np.float32))
    nan = tmp_path / "nan.npz"
    np.savez(nan, image=np.full((10, 1, 8, 8), np.nan, np.float32))
    model = str(demo_build.path / "baseline.float32.onnx")
    return {
        "corrupt": (["compile", str(corrupt), "--calib", str(digits_npz["calib"])], "not a valid ONNX model"),
        "missing": (["compile", str(tmp_path / "absent.onnx")], "absent.onnx: file not found"),
        "shape": (["compile", model, "--calib", str(wrong)], "samples of shape (1, 28, 28)"),
        "nan": (["compile", model, "--calib", str(nan)], "NaN/Inf"),
        "target": (["compile", model, "--target", "rpi9"], "unknown target 'rpi9'"),
        "pipeline": (["compile", model, "--pipeline", "cleanup,quantise"], "did you mean 'quantize'"),
    }


@pytest.mark.parametrize("case", ["corrupt", "missing", "shape", "nan", "target", "pipeline"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, digits_npz, demo_build, case):
    args, message = _bad_input(tmp_path, digits_npz, demo_build)[case]
    out = tmp_path / "out"
    result = run_cli(*args, "-o", str(out), cache=tmp_path / "cache")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("edgec: error: ") and result.stderr.count("\n") == 1  # one line, no traceback
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_config_file_supplies_defaults(tmp_path, demo_build, digits_npz, session_cache):
    (tmp_path / "edgec.toml").write_text(
        f'[compile]\ntarget = "rpi5"\ncalib = "{digits_npz["calib"]}"\neval = "{digits_npz["eval"]}"\nmax-drop = 0.75\n'
    )
    result = run_cli(
        "compile", str(demo_build.path / "baseline.float32.onnx"), "-o", "b", cwd=tmp_path, cache=session_cache
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["target"]["id"] == "rpi5" and report["gate"]["max_accuracy_drop_points"] == 0.75


def _two_input_model(path):
    """x and y (N, 2, 8, 8) are added, then convolved: calibration and evaluation must feed both by name."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).normal(size=(4, 2, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Add", ["x", "y"], ["s"]), helper.make_node("Conv", ["s", "w"], ["out"])]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 2, 8, 8]) for n in ("x", "y")]
    output = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 4, 6, 6])
    graph = helper.make_graph(nodes, "two", inputs, [output], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)


def test_multi_input_model_is_fed_by_input_name(tmp_path, session_cache):
    from edgec.compiler.api import CompileOptions, compile
    from edgec.compiler.errors import InputError

    _two_input_model(tmp_path / "two.onnx")
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "calib.npz", x=rng.random((40, 2, 8, 8), np.float32), y=rng.random((40, 2, 8, 8), np.float32))
    result = compile(
        CompileOptions(
            source=str(tmp_path / "two.onnx"),
            calib=tmp_path / "calib.npz",
            output=tmp_path / "out",
            cache_dir=session_cache,
            progress=False,
        )
    )
    drift = result.report["artifacts"][0]["evaluation"]["drift"]
    assert result.report["data"]["evaluation"]["samples"] == 8 and drift["sqnr_db"] > 25  # one int8 conv
    # an [N, 4, 6, 6] feature map has no decisions: no agreement, judged by SQNR (an argmax over 144 cells was)
    assert result.report["artifacts"][0]["evaluation"]["output_kind"] == {"name": "regression"}
    assert drift["agreement"] is None and "No decisions to compare" in (result.path / "report.md").read_text()
    np.savez(tmp_path / "only_x.npz", x=rng.random((10, 2, 8, 8), np.float32))
    with pytest.raises(InputError, match=r"no array for model input\(s\) \['y'\]"):
        compile(
            CompileOptions(
                source=str(tmp_path / "two.onnx"),
                calib=tmp_path / "only_x.npz",
                output=tmp_path / "out2",
                cache_dir=session_cache,
                progress=False,
            )
        )
