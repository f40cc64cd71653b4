"""--prune: parsing, where the pass lands in each pipeline, and the auto search's choice and curve, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import load, numpy_helper

from conftest import run_cli
from edgec.compiler.errors import ConfigError
from edgec.compiler.pipeline import Overrides, plan_artifacts
from edgec.compiler.prune_request import parse_prune
from edgec.targets.profile import load_profile

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')


@pytest.mark.parametrize(
    "text, name, options, auto",
    [
        ("unstructured:0.5", "prune", {"sparsity": "0.5"}, False),
        ("structured:auto", "prune-channels", {}, True),
        ("prune{method=wanda,sparsity=auto}", "prune", {"method": "wanda"}, True),
        ("prune-channels{ratio=0.3,align=8}", "prune-channels", {"ratio": "0.3", "align": "8"}, False),
    ],
)
def test_prune_requests_parse_into_one_pass(text, name, options, auto):
    request = parse_prune(text)
    assert (request.spec.name, request.spec.options, request.auto) == (name, options, auto)


@pytest.mark.parametrize(
    "text, message",
    [
        ("structured:1.5", "must be a share between 0 and 1"),
        ("unstructured:half", "must be a share between 0 and 1"),
        ("sparse:0.5", "expected structured:AMOUNT or unstructured:AMOUNT"),
        ("cleanup", "expected one prune or prune-channels pass"),
    ],
)
def test_bad_prune_requests_say_what_is_expected(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_prune(text)


def test_pruning_goes_right_after_cleanup_in_every_artifact_and_only_once():
    prune = parse_prune("structured:0.4").fixed()
    plans = plan_artifacts(load_profile("rpi4"), Overrides(prune=prune), "keras")
    for plan in plans:
        names = [p.name for p in plan.passes]
        assert names[names.index("cleanup") + 1] == "prune-channels", names
        assert not plan.from_source  # a keras source takes the ONNX route, so the pruning is not skipped
    with pytest.raises(ConfigError, match="already prunes"):
        plan_artifacts(load_profile("rpi4"), Overrides(prune=prune, pipeline="cleanup,prune,quantize"), "onnx")


@pytest.fixture(scope="module")
def auto_build(tmp_path_factory, session_cache):
    out = tmp_path_factory.mktemp("prune") / "auto"
    result = run_cli("compile", "--target", "rpi4", "--prune", "unstructured:auto", "-o", str(out), cache=session_cache)
    assert result.returncode == 0, result.stderr
    return out


def test_auto_sparsity_is_the_largest_within_budget_and_the_curve_is_saved(auto_build):
    report = json.loads((auto_build / "report.json").read_text())
    found = report["prune_search"]
    curve = {p["amount"]: p for p in found["curve"]}
    chosen = found["chosen"]
    budget = found["budget"]["max_accuracy_drop_points"]
    assert chosen is not None and curve[chosen]["passed"] and curve[chosen]["accuracy_drop_points"] <= budget
    # every larger amount explored broke the budget, or the grid ended
    assert all(not p["passed"] for a, p in curve.items() if a > chosen) and len(curve) >= 3
    assert [p["compressed_bytes"] for _, p in sorted(curve.items())] == sorted(
        (p["compressed_bytes"] for p in curve.values()), reverse=True
    )  # more zeros, smaller compressed image
    assert (auto_build / "prune_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Prune search (`--prune unstructured:auto`)" in (auto_build / "report.md").read_text()
    # the chosen sparsity is in both artifacts, and the build passed its gate
    assert report["gate"]["passed"]
    for artifact in report["artifacts"]:
        prune = next(p for p in artifact["passes"] if p["name"] == "prune")
        assert prune["config"]["sparsity"] == chosen
        assert all(abs(s - chosen) < 0.02 for s in prune["details"]["layer_sparsity"].values())
        assert artifact["compressed_bytes"] < 0.75 * artifact["size_bytes"]


def test_structured_pruning_reaches_both_artifacts(tmp_path, session_cache):
    out = tmp_path / "structured"
    args = ["--prune", "structured:0.25", "--no-search", "-o", str(out)]
    result = run_cli("compile", "--target", "rpi4", *args, cache=session_cache)
    assert result.returncode in (0, 1), result.stderr  # the gate may fail without recovery; the shapes still tell
    assert "Removing initializer" not in result.stderr  # the old flatten shape constant does not linger
    folder = out
    model = load(str(folder / "digits-cnn.int8.onnx"))
    int8_weights = [numpy_helper.to_array(i) for i in model.graph.initializer]
    conv_outputs = sorted(w.shape[0] for w in int8_weights if w.dtype == np.int8 and w.ndim == 4)
    assert conv_outputs == [32, 48, 96]  # 32 stays (rounding to 16-channel tiles), 64 -> 48, 128 -> 96
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(folder / "digits-cnn.int8.tflite"))
    channels = {tuple(t["shape"])[-1] for t in interpreter.get_tensor_details() if len(t["shape"]) == 4}
    assert max(channels) == 96 and 128 not in channels
