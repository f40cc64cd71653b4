"""One artifact's lowering failure never discards another's: the build keeps what worked and names what did not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli
from edgec.compiler.errors import clip


@pytest.fixture(scope="module")
def spectral_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spectral")
    rng = np.random.default_rng(0)
    np.savez(folder / "calib.npz", signal=rng.normal(size=(32, 1, 64)).astype(np.float32))
    np.savez(folder / "eval.npz", signal=rng.normal(size=(64, 1, 64)).astype(np.float32))
    return folder


@pytest.mark.slow
def test_a_failed_tflite_lowering_keeps_the_validated_onnx_artifact(spectral_data, tmp_path, session_cache):
    out = tmp_path / "build"
    args = ["compile", "edgec_test_models:make_spectral_classifier", "--input-shape", "1,1,64", "--target", "rpi4"]
    data = ["--calib", str(spectral_data / "calib.npz"), "--eval", str(spectral_data / "eval.npz")]
    done = run_cli(*args, *data, "-o", str(out), cache=session_cache)
    assert done.returncode == 1, done.stderr  # the gate's exit code: a build was written, one artifact is missing
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("edgec: error:")]
    assert error.startswith("edgec: error: build incomplete: tflite: NOT BUILT"), done.stderr
    files = {path.name for path in out.iterdir()}
    assert "make_spectral_classifier.int8.onnx" in files and not any(name.endswith(".tflite") for name in files)
    report = json.loads((out / "report.json").read_text())
    (onnx,) = report["artifacts"]
    assert onnx["name"] == "onnx" and onnx["evaluation"]["drift"]["sqnr_db"] > 15  # validated as usual
    (failed,) = report["failed_artifacts"]
    assert failed["artifact"] == "tflite" and failed["pipeline"] == "cleanup,onnx-to-tf,tflite"
    assert failed["message"].startswith("onnx2tf could not convert the model") and "\x1b[" not in failed["message"]
    failing = [(c["artifact"], c["metric"]) for c in report["gate"]["checks"] if not c["passed"]]
    assert failing == [("tflite", "artifact_built")]
    assert "## Not built" in (out / "report.md").read_text() and "NOT BUILT" in done.stdout


def test_a_tool_message_is_clipped_at_a_word_without_colour_codes_or_newlines():
    message = "\x1b[31mERROR:\x1b[0m Input 'y' of 'Sub' Op has type int64\n\nthat does not match type int32 " * 5
    clipped = clip(message, 80)
    assert clipped.endswith(" ...") and len(clipped) <= 84 and "\n" not in clipped and "\x1b" not in clipped
    words = set(" ".join(message.replace("\x1b[31m", "").replace("\x1b[0m", "").split()).split())
    assert all(word in words for word in clipped[: -len(" ...")].split())  # every word whole
    assert clip("short message") == "short message"
