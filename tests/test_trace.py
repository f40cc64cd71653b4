"""Drift traced to its cause: per-pass drift on the demo, and the first diverging layer of an int8 model."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import run_cli
from edgec.compiler.validation.layer_trace import DIVERGED_DB, first_diverging


def _outlier_model(path) -> None:
    """x -> MatMul -> Relu (`hidden`: channel 0 is 10,000x the rest) -> MatMul (ignores channel 0) -> `logits`.

    One per-tensor int8 scale for `hidden` is set by its outlier channel, so the 15 small channels round to
    almost nothing: `hidden` itself keeps a high SQNR (the outlier is exact), and the next layer, which reads
    only the small channels, is where int8 diverges."""
    rng = np.random.default_rng(0)
    first = rng.normal(size=(16, 16)).astype(np.float32)
    first[:, 0] = np.abs(first[:, 0]) * 1e4
    second = rng.normal(size=(16, 4)).astype(np.float32)
    second[0] = 0.0
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["pre"]),
            helper.make_node("Relu", ["pre"], ["hidden"]),
            helper.make_node("MatMul", ["hidden", "w2"], ["logits"]),
        ],
        "outlier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(first, "w1"), numpy_helper.from_array(second, "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def test_first_diverging_is_the_first_under_the_threshold_else_the_largest_fall():
    rows = [{"tensor": t, "op": "Conv", "sqnr_db": db} for t, db in (("a", 40.0), ("b", 31.0), ("c", 38.0))]
    assert first_diverging(rows)["tensor"] == "b" and "largest fall" in first_diverging(rows)["rule"]
    rows.append({"tensor": "d", "op": "Gemm", "sqnr_db": DIVERGED_DB - 1})
    assert first_diverging(rows)["tensor"] == "d" and "under" in first_diverging(rows)["rule"]
    assert first_diverging([]) is None


def test_an_over_budget_build_names_the_layer_where_int8_diverges(tmp_path, session_cache):
    _outlier_model(tmp_path / "outlier.onnx")
    rng = np.random.default_rng(1)
    for split in ("calib", "eval"):
        np.savez(tmp_path / f"{split}.npz", x=np.abs(rng.normal(size=(128, 16))).astype(np.float32))
    result = run_cli(
        "compile", str(tmp_path / "outlier.onnx"), "--target", "host-x86", "--calib", str(tmp_path / "calib.npz"),
        "--eval", str(tmp_path / "eval.npz"), "-o", str(tmp_path / "build"), "--no-search", "--quiet",
        cache=session_cache,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "first diverging layer logits (MatMul" in result.stdout
    report = json.loads(next(tmp_path.glob("build*/report.json")).read_text())
    layers = report["artifacts"][0]["trace"]["layers"]
    sqnr = {row["tensor"]: row["sqnr_db"] for row in layers["tensors"]}
    assert sqnr["hidden"] > 30 and sqnr["logits"] < DIVERGED_DB  # the outlier survives, what it crowds out does not
    assert layers["first_diverging"]["tensor"] == "logits"


def test_the_demo_report_traces_each_numeric_step(demo_build):
    """Every int8 artifact: one row per stage that changes numbers, steps adding up to the artifact's drop, and
    a per-layer SQNR list in graph order."""
    by_name = {art["name"]: art for art in demo_build.report["artifacts"]}
    stages = {name: [row["stage"] for row in art["trace"]["passes"]] for name, art in by_name.items()}
    assert stages["onnx"][-1] == "quantize"
    assert stages["tflite"][-2:] == ["lowering (tflite float32)", "tflite int8"]
    for art in by_name.values():
        rows = art["trace"]["passes"]
        assert sum(row["step_points"] for row in rows) == pytest.approx(art["evaluation"]["accuracy_drop_points"])
        assert rows[-1]["sqnr_db"] == art["evaluation"]["drift"]["sqnr_db"]
        layers = art["trace"]["layers"]
        assert len(layers["tensors"]) >= 6 and all(15 < row["sqnr_db"] < 60 for row in layers["tensors"])
        assert layers["first_diverging"]["tensor"] in {row["tensor"] for row in layers["tensors"]}
    lowering = by_name["tflite"]["trace"]["passes"][-2]
    assert lowering["sqnr_db"] > 80  # float32 lowering is near exact; int8 is where the error enters


def test_an_over_budget_demo_build_names_its_first_diverging_layer_per_artifact(demo_build, tmp_path, session_cache):
    """A budget nothing can meet (a negative drop, which --max-drop refuses: a user profile's budget here) makes
    both demo artifacts fail; each failure is traced."""
    profile = tmp_path / "strict-rpi4.toml"
    profile.write_text('extends = "rpi4"\n[budgets]\nmax_accuracy_drop = -1.0\n')
    result = run_cli(
        "compile", "--target", str(profile), "-o", str(tmp_path / "build"), "--no-search", "--quiet",
        cache=session_cache,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    traced = [line for line in result.stdout.splitlines() if line.strip().startswith("traced")]
    assert len(traced) == 2 and all("first diverging layer" in line for line in traced)
    assert "quantize +" in traced[0] and "lowering (tflite float32) +" in traced[1]
