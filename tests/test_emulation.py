"""Artifacts run in the target's aarch64 runtime builds under qemu-user (edgec.compiler.emulator).

Needs the emulator folder (`python -m edgec.compiler.emulator setup`, which .ci/run does); without it these
tests skip and say why.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from edgec.compiler.emulator import find, run_emulated, status
from edgec.compiler.emulator.cores import pick
from edgec.compiler.emulator.sysroot import pins
from edgec.compiler.errors import ToolchainError

# CI sets the emulator up (.ci/run): there a missing one fails these tests instead of skipping them
needs_emulator = pytest.mark.skipif(
    find() is None and os.environ.get("CI") != "true", reason=f"aarch64 emulator not set up: {status()}"
)
RNG = np.random.default_rng(7)


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    noise = np.sum((reference.astype(np.float64) - test) ** 2)
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / max(noise, 1e-30)))


def float_conv_model() -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    weight = RNG.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32)
    bias = RNG.normal(0, 0.1, 8).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["y"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8, 8, 8])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def int8_qdq(float_model: bytes, calibration: np.ndarray, tmp_path) -> bytes:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.rows = iter([{"x": calibration[i : i + 8]} for i in range(0, len(calibration), 8)])

        def get_next(self):
            return next(self.rows, None)

    (tmp_path / "float.onnx").write_bytes(float_model)
    quantize_static(
        str(tmp_path / "float.onnx"),
        str(tmp_path / "int8.onnx"),
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )
    return (tmp_path / "int8.onnx").read_bytes()


@needs_emulator
def test_int8_qdq_conv_runs_in_emulated_onnxruntime(tmp_path):
    from edgec.runtimes import open_runner

    x = RNG.normal(0, 1, (16, 3, 8, 8)).astype(np.float32)
    float_model = float_conv_model()
    reference = open_runner("onnxruntime", float_model).run({"x": x})[0]
    run = run_emulated("cortex-a72", "onnxruntime", int8_qdq(float_model, x, tmp_path), {"x": x}, threads=1)
    assert run.runtime_version == pins()["onnxruntime"]
    assert run.qemu_cpu == "cortex-a72" and "aarch64" in run.cpu and "0xd08" in run.cpu
    assert run.outputs[0].shape == reference.shape
    assert sqnr_db(reference, run.outputs[0]) > 30


@needs_emulator
def test_tflite_model_runs_in_emulated_litert():
    import tensorflow as tf

    weight = RNG.normal(0, 0.5, (6, 4)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32)])
    def dense(x):
        return tf.nn.relu(tf.matmul(x, weight))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([dense.get_concrete_function()])
    x = RNG.normal(0, 1, (10, 6)).astype(np.float32)
    run = run_emulated("cortex-a76", "litert", converter.convert(), {"x": x}, threads=2, batch_size=4)
    assert run.runtime_version == f"ai_edge_litert {pins()['ai-edge-litert']}"
    np.testing.assert_allclose(run.outputs[0], np.maximum(x @ weight, 0), rtol=1e-4, atol=1e-5)


@needs_emulator
def test_a_runtime_failure_is_one_clear_error():
    with pytest.raises(ToolchainError, match=r"emulated onnxruntime on cortex-a72 failed: .*(Fail|INVALID|Invalid)"):
        run_emulated("cortex-a72", "onnxruntime", b"not an onnx model", {"x": np.zeros((1, 2), np.float32)})


def test_cores_map_to_what_qemu_models():
    assert pick("cortex-a72") == (pick("cortex-a72")[0], "")
    core, note = pick("cortex-a78ae")
    assert core.qemu == "cortex-a76" and "closest" in note
    assert pick("cortex-a72 host + Edge TPU")[0].qemu == "cortex-a72"
    with pytest.raises(ToolchainError, match="not an aarch64 application core"):
        run_emulated("cortex-m4f", "litert", b"", {"x": np.zeros(1)})


def test_find_rejects_a_missing_partial_or_stale_folder(tmp_path, monkeypatch):
    import json

    from edgec.compiler.emulator import sysroot

    monkeypatch.setattr(sysroot.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    assert sysroot.find(tmp_path / "none") is None
    partial = tmp_path / "partial"
    (partial / "sysroot" / "usr" / "bin").mkdir(parents=True)
    (partial / "sysroot" / "usr" / "bin" / f"python{sysroot.PYTHON}").write_text("")
    assert sysroot.find(partial) is None and "no emulator" in sysroot.status(partial)
    stale = {**sysroot.wanted_marker(), "packages": {"onnxruntime": "0.0.1"}}
    (partial / "marker.json").write_text(json.dumps(stale))
    assert sysroot.find(partial) is None and "stale" in sysroot.status(partial)
    (partial / "marker.json").write_text(json.dumps(sysroot.wanted_marker()))
    assert sysroot.find(partial) is not None


@needs_emulator
@pytest.mark.slow
def test_rpi4_demo_is_judged_on_the_emulated_cortex_a72(tmp_path, session_cache):
    """Issue 22's acceptance: the ONNX artifact's gate numbers come from ONNX Runtime's aarch64 kernels on an
    emulated Cortex-A72 (39.3 dB measured, on AVX2 and VNNI hosts alike), the host's own numbers beside them."""
    from edgec.compiler.api import CompileOptions, compile
    from edgec.runtimes.cpu_features import host_cpu

    result = compile(
        CompileOptions(target="rpi4", output=tmp_path / "b", progress=False, cache_dir=session_cache, emulate=True)
    )
    onnx, tflite = result.report["artifacts"]
    for artifact in (onnx, tflite):
        kernels = artifact["evaluation"]["kernels"]
        assert kernels["source"] == "emulated" and kernels["core"] == "cortex-a72"
        assert kernels["host_isa"] == host_cpu().family == result.report["host"]["family"]
        assert "emulated cortex-a72" in artifact["evaluation"]["runtime"]
    assert abs(onnx["evaluation"]["drift"]["sqnr_db"] - 39.3) < 3
    here = onnx["evaluation"]["host_kernels"]
    assert here["isa"] == host_cpu().family and here["diverges"] == (abs(here["sqnr_db"] - 39.3) > 3)
    checked = {c["artifact"]: c for c in result.report["gate"]["checks"] if c["metric"] != "sqnr_db"}
    assert checked["onnx"]["value"] == onnx["evaluation"]["accuracy_drop_points"] and result.passed
    assert "Whose kernels" in (result.path / "report.md").read_text()


@needs_emulator
@pytest.mark.slow
def test_a_bundle_runs_on_the_emulated_core_and_lands_in_the_report(demo_bundle, demo_build, tmp_path):
    """Issue 22 item 3: `edgec run BUNDLE --device emulated:rpi4` runs the device-side harness in the target's
    own aarch64 runtimes on an emulated Cortex-A72; accuracy is judged, qemu's timings are not."""
    import json
    import shutil

    from conftest import run_cli

    build = tmp_path / "build"
    shutil.copytree(demo_build.path, build)
    out = tmp_path / "results.json"
    done = run_cli("run", str(demo_bundle), "--device", "emulated:rpi4", "--out", str(out), "--build", str(build))
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["environment"]["machine"] == "aarch64" and results["environment"]["emulated"].startswith(
        "cortex-a72"
    )
    assert {run["artifact"] for run in results["runs"]} == {"onnx", "tflite"}
    assert all(run["accuracy"]["vs_host"]["agreement"] >= 0.99 for run in results["runs"])
    (device_run,) = json.loads((build / "report.json").read_text())["device_runs"]
    assert device_run["label"] == "emulated cortex-a72" and device_run["passed"]
    assert not [c for c in device_run["checks"] if c["metric"] == "device_p90_ms"]  # qemu's timings are not gated
    assert "timings are qemu's and not gated" in done.stdout


def test_an_emulated_run_gets_the_samples_its_budget_allows():
    from edgec.compiler.validation.kernels import EMULATED_MACS_BUDGET, EMULATED_MIN_SAMPLES, emulated_samples

    assert emulated_samples(2_400_000, 360) == 360  # the demo: all of them, about a minute at most
    assert emulated_samples(int(1.5e9), 200) == EMULATED_MIN_SAMPLES  # a 1.5 GMAC recognizer: the floor
    assert emulated_samples(int(EMULATED_MACS_BUDGET // 50), 200) == 50
    assert emulated_samples(0, 200) == 200  # MACs unknown: no bound


@needs_emulator
@pytest.mark.slow
def test_a_bounded_emulated_run_says_so_and_the_host_covers_every_sample(tmp_path, session_cache, monkeypatch):
    from edgec.compiler.api import CompileOptions, compile
    from edgec.compiler.summary import summarize
    from edgec.compiler.validation import kernels

    monkeypatch.setattr(kernels, "EMULATED_MACS_BUDGET", 2_400_000 * 40)  # as if the demo were 9x larger
    result = compile(
        CompileOptions(target="rpi4", output=tmp_path / "b", progress=False, cache_dir=session_cache, emulate=True)
    )
    for artifact in result.report["artifacts"]:
        evaluation = artifact["evaluation"]
        assert 16 <= evaluation["samples"] < 360 and evaluation["kernels"]["samples"] == evaluation["samples"]
        assert evaluation["host_kernels"] is not None  # the host's numbers, on all 360
    assert "emulation time budget" in summarize(result.report, result.path)
    assert result.report["cross_format"][0]["agreement"] is not None


@needs_emulator
@pytest.mark.slow
def test_an_emulated_run_is_kept_by_content_and_not_repeated(tmp_path, session_cache, monkeypatch):
    """Issue 22 item 3: an unchanged artifact on unchanged data is emulated once; a warm re-run reads it."""
    import edgec.compiler.emulator as emulator
    from edgec.compiler.api import CompileOptions, compile

    def build(name):
        options = CompileOptions(target="rpi4", output=tmp_path / name, progress=False, cache_dir=session_cache)
        return compile(dataclasses.replace(options, emulate=True))

    first = build("first")

    def refuse(*_args, **_kwargs):
        raise AssertionError("the emulator ran again for the same artifact and data")

    monkeypatch.setattr(emulator, "run_emulated", refuse)
    second = build("second")
    for before, after in zip(first.report["artifacts"], second.report["artifacts"], strict=True):
        assert after["evaluation"]["kernels"]["source"] == "emulated"
        assert after["evaluation"]["drift"] == before["evaluation"]["drift"]
