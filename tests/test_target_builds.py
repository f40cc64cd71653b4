"""The demo compiled for the Jetson and ESP32-S3 targets: each artifact in the form its device's runtime reads."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from conftest import run_cli
from edgec.targets.profile import load_profile

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')


def _compile(tmp_path, target: str, cache) -> tuple[object, dict]:
    out = tmp_path / target
    done = run_cli("compile", "--target", target, "-o", str(out), cache=cache)
    assert done.returncode == 0, done.stderr
    return out, json.loads((out / "report.json").read_text())


def test_jetson_nano_gets_a_float16_onnx_within_budget(tmp_path, session_cache):
    out, report = _compile(tmp_path, "jetson-nano", session_cache)
    (artifact,) = report["artifacts"]
    assert artifact["file"] == "digits-cnn.float16.onnx" and artifact["precision"] == "float16"
    graph = onnx.load(out / artifact["file"]).graph
    assert {i.data_type for i in graph.initializer} == {TensorProto.FLOAT16, TensorProto.INT64}  # INT64: a shape
    assert [v.type.tensor_type.elem_type for v in (*graph.input, *graph.output)] == [TensorProto.FLOAT] * 2
    assert 0.47 < artifact["size_ratio"] < 0.51  # measured 0.486 of the float baseline file
    evaluation = artifact["evaluation"]
    assert report["gate"]["passed"] and report["gate"]["max_accuracy_drop_points"] == 0.5
    assert evaluation["accuracy_drop_points"] <= 0.5 and evaluation["accuracy"] >= 0.99  # measured: 0.0, 99.44%
    assert evaluation["drift"]["agreement"] >= 0.99 and evaluation["drift"]["sqnr_db"] > 55  # measured 62.7 dB
    (fp16,) = [p for p in artifact["passes"] if p["name"] == "fp16"]
    assert fp16["details"]["clamped"] == 0 and fp16["details"]["casts_inserted"] == 2


def test_jetson_orin_nano_gets_symmetric_int8_qdq(tmp_path, session_cache):
    out, report = _compile(tmp_path, "jetson-orin-nano", session_cache)
    (artifact,) = report["artifacts"]
    model = onnx.load(out / artifact["file"])
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    zero_points = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert len(zero_points) >= 4 and all(z.dtype == np.int8 and not z.any() for z in zero_points)
    assert not any(a.dtype == np.int32 for a in inits.values())  # biases stay float for TensorRT's parser
    assert artifact["quantization"]["quantized_compute_ops"] == 4 and not artifact["quantization"]["float_compute_ops"]
    assert artifact["evaluation"]["accuracy_drop_points"] <= 1.0 and report["gate"]["passed"]


def test_esp32s3_gets_a_full_int8_tflite_that_fits(tmp_path, session_cache):
    _, report = _compile(tmp_path, "esp32s3", session_cache)
    (artifact,) = report["artifacts"]
    conversion = artifact["conversion"]
    assert conversion["float_activations"] == 0 and set(conversion["io"].values()) == {"int8"}
    assert set(report["constraints"]["tflite"]["ops"]) <= set(load_profile("esp32s3").constraints.allowed_ops)
    assert artifact["size_bytes"] < load_profile("esp32s3").constraints.flash_kb * 1024
    assert artifact["evaluation"]["accuracy_drop_points"] <= 1.0 and report["gate"]["passed"]
