"""Microcontroller artifacts validated in TensorFlow Lite Micro's own interpreter, with the arena it measured."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import run_cli
from edgec.runtimes import open_runner
from edgec.runtimes.kernels import tflm_kernels
from edgec.runtimes.litert_runner import LiteRtRunner
from edgec.runtimes.tflm_runner import TflmRunner
from edgec.targets.profile import load_profile

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')


@pytest.fixture(scope="module")
def nano_build(tmp_path_factory, session_cache):
    """The demo compiled once for nano33ble through the Python API."""
    from edgec.compiler.api import CompileOptions, compile

    out = tmp_path_factory.mktemp("builds") / "demo-nano33ble"
    return compile(CompileOptions(target="nano33ble", output=out, cache_dir=session_cache, progress=False))


@pytest.fixture(scope="module")
def tiny_int8(tmp_path_factory) -> bytes:
    """A tiny full-int8 TFLite model with int8 IO, as the MCU targets get (conv, reshape, dense)."""
    import tensorflow as tf

    image = tf.keras.Input((8, 8, 1), batch_size=1, name="image")
    hidden = tf.keras.layers.Conv2D(4, 3, activation="relu")(image)
    model = tf.keras.Model(image, tf.keras.layers.Dense(3)(tf.keras.layers.Flatten()(hidden)))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: ([rng.random((1, 8, 8, 1), dtype=np.float32)] for _ in range(16))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


@pytest.mark.parametrize("target", ["nano33ble", "stm32h7", "esp32s3"])
def test_mcu_profiles_validate_in_tflite_micro(target):
    (artifact,) = load_profile(target).artifacts
    assert (artifact.format, artifact.runtime) == ("tflite", "tflm")


def test_nano33ble_demo_validates_in_tflite_micro(nano_build):
    (artifact,) = nano_build.report["artifacts"]
    evaluation = artifact["evaluation"]
    assert nano_build.passed and artifact["runtime"] == "tflm"
    assert evaluation["runtime"] == "tflm" and evaluation["runtime_version"].startswith("tflite-micro ")
    assert evaluation["drift"]["agreement"] >= 0.97  # measured 1.0, drop 0.0 points
    assert evaluation["accuracy_drop_points"] <= 1.0
    assert artifact["latency"]["runtime"].startswith("tflm tflite-micro ")


def test_nano33ble_arena_is_measured_beside_the_estimate(nano_build):
    (artifact,) = nano_build.report["artifacts"]
    cost = artifact["cost"]
    measured, estimate = cost["arena_measured"], cost["peak_activation_bytes"]
    print(f"nano33ble arena: measured {measured}, estimate {estimate}")
    # measured on the demo: 10080 bytes = 6144 planned + 3936 persistent, against an estimate of 7360
    assert cost["arena_measured_bytes"] == measured["used_bytes"] > 0
    assert measured["used_bytes"] == measured["planned_bytes"] + measured["persistent_bytes"]
    assert measured["estimate_bytes"] == estimate
    # the planned part holds what the liveness estimate counts, less CMSIS-NN's scratch (the reference
    # kernels ask for none): 0.83 of it; the whole arena adds the host's 64-bit persistent structures: 1.37
    assert 0.7 <= measured["planned_bytes"] / estimate <= 1.0
    assert 1.2 <= cost["arena_measured_ratio"] <= 1.6
    assert cost["arena_measured_bytes"] < load_profile("nano33ble").constraints.ram_kb * 1024
    markdown = (nano_build.path / "report.md").read_text()
    assert "tensor arena measured in tflite-micro" in markdown and "against the estimate 7.2 KiB" in markdown


def test_nano33ble_bundle_runs_in_the_harness_on_tflite_micro(nano_build, tmp_path):
    bundle, results = tmp_path / "nano.bundle", tmp_path / "results.json"
    done = run_cli("bundle", str(nano_build.path), "-o", str(bundle))
    assert done.returncode == 0, done.stderr
    command = [sys.executable, str(bundle), "--out", str(results), "--runs", "5", "--min-seconds", "0"]
    done = subprocess.run([*command, "--max-seconds", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (run,) = json.loads(results.read_text())["runs"]
    assert run["runtime"].startswith("tflm tflite-micro ") and run["memory"]["arena_used_bytes"] > 0
    assert run["kernels"]["fast_path"] and run["kernels"]["delegate"] is None
    assert run["accuracy"]["vs_host"]["identical_fraction"] == 1.0  # the same interpreter as validation


def test_runner_agrees_with_litert_on_a_tiny_int8_model(tiny_int8):
    tflm, litert = open_runner("tflm", tiny_int8), LiteRtRunner(tiny_int8)
    assert isinstance(tflm, TflmRunner) and tflm.input_names == litert.input_names and tflm.fixed_batch == 1
    x = np.random.default_rng(1).random((16, 8, 8, 1), dtype=np.float32)
    (ours,) = tflm.run({tflm.input_names[0]: x})  # 16 rows: the runner loops TFLite Micro's batch of 1
    theirs = np.concatenate([litert.run({litert.input_names[0]: x[i : i + 1]})[0] for i in range(16)])
    step = litert.interpreter.get_output_details()[0]["quantization"][0]
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (16, 3)
    assert np.abs(ours - theirs).max() <= step * 1.01  # at most one output quantization step apart
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    assert 0 < tflm.arena_planned_bytes < tflm.arena_used_bytes
    kernels = tflm_kernels(tflm.ops, int8=True)
    assert kernels["kernels"] == {"CONV_2D": 1, "FULLY_CONNECTED": 1, "RESHAPE": 1} and kernels["fast_path"]


def test_too_small_an_arena_fails_with_tflite_micros_reason(tiny_int8):
    with pytest.raises(RuntimeError, match=r"failed to allocate tensors: .*(Failed|missing)"):
        TflmRunner(tiny_int8, arena_size=512)
