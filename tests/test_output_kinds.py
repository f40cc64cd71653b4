"""Outputs judged by what they mean: class scores, a [N, 1] score, per-position sequences, regression outputs.

The false PASS this guards against: a streaming detector's [N, 1] probability compiled to a useless int8
artifact passed with "agreement 100%", because an argmax over one value is always 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import naive_int8
from edgec.compiler.validation import gate
from edgec.compiler.validation.evaluate import Evaluation
from edgec.compiler.validation.statistics import drift_statistics
from edgec.runtimes import metrics
from edgec.runtimes.output_kinds import OutputKind, infer_kind

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("shape", "low", "kind"),
    [
        ((50, 10), -3.0, "classes"),
        ((50, 1), 0.0, "score"),
        ((50,), 0.0, "score"),
        ((50, 20, 30), -3.0, "sequence"),
        ((50, 3, 8, 8), -3.0, "regression"),
    ],
)
def test_the_kind_follows_the_output_shape(shape, low, kind):
    assert infer_kind(RNG.uniform(low, 1.0, shape)).name == kind


def test_a_score_s_threshold_is_one_half_for_probabilities_and_zero_for_logits():
    assert infer_kind(RNG.uniform(0, 1, (40, 1))) == OutputKind("score", 0.5)
    assert infer_kind(RNG.normal(0, 3, (40, 1))) == OutputKind("score", 0.0)


def test_a_declared_kind_wins_and_an_unknown_one_is_refused():
    embedding = RNG.normal(size=(40, 128))
    assert infer_kind(embedding).name == "classes" and infer_kind(embedding, "regression").name == "regression"
    with pytest.raises(ValueError, match="unknown output kind 'logits'"):
        infer_kind(embedding, "logits")


def test_a_collapsed_score_no_longer_agrees_by_argmax():
    """The reported case: probabilities spread over [0, 1] against an int8 output stuck near one value."""
    reference = RNG.uniform(0, 1, (200, 1)).astype(np.float32)
    collapsed = np.full_like(reference, 0.3)
    assert metrics.agreement(reference, collapsed) == pytest.approx(np.mean(reference[:, 0] <= 0.5))
    assert metrics.agreement(reference, collapsed) < 0.6  # an argmax over [N, 1] said 1.0 here
    labels = (reference[:, 0] > 0.5).astype(np.int64)
    assert metrics.accuracy(reference, labels) == 1.0 and metrics.accuracy(collapsed, labels) < 0.6


def test_a_sequence_agrees_position_by_position():
    reference = RNG.normal(size=(10, 20, 5))
    candidate = reference.copy()
    candidate[0, :4] = -reference[0, :4]  # four positions of one sample decide differently
    expected = 1 - 4 / 200
    assert metrics.agreement(reference, candidate) == pytest.approx(expected)
    labels = reference.argmax(axis=2)
    assert metrics.accuracy(candidate, labels) == pytest.approx(expected)
    stats = drift_statistics(reference, candidate, labels)
    assert stats["flips"]["count"] == 1 and stats["flips"]["listed"][0]["positions_changed"] == 4
    assert "per_class" not in stats and stats["drop_interval_points"][1] >= 2.0  # 1 sample of 10 lost 20%


def test_a_regression_output_has_no_agreement_and_is_judged_by_sqnr_alone():
    reference = RNG.normal(size=(30, 3, 4, 4))
    drift = metrics.drift(reference, reference + RNG.normal(0, 0.5, reference.shape))
    assert drift["agreement"] is None and 4 < drift["sqnr_db"] < 8  # noise power a quarter of the signal's
    evaluation = Evaluation("onnx", "onnxruntime", "1", 1, 30, None, None, None, drift)
    (check,) = gate.check([evaluation], gate.DriftBudget(1.0, 0.97, min_sqnr_db=12.0))
    assert check.metric == "sqnr_db" and not check.passed
    assert drift_statistics(reference, reference, None)["flips"] is None


def test_the_sqnr_floor_fails_a_noisy_output_whose_decisions_still_agree():
    reference = np.tile([[9.0, 0.0, 0.0]], (100, 1))
    noisy = reference + RNG.normal(0, 3.0, reference.shape)  # argmax mostly survives, the values do not
    drift = metrics.drift(reference, noisy)
    assert drift["agreement"] >= 0.97 and drift["sqnr_db"] < 12
    evaluation = Evaluation("onnx", "onnxruntime", "1", 1, 100, None, None, None, drift)
    agreement, sqnr = gate.check([evaluation], gate.DriftBudget(1.0, 0.97, min_sqnr_db=12.0))
    assert agreement.passed and not sqnr.passed and "OVER BUDGET" in sqnr.describe()


def test_a_nan_output_fails_the_sqnr_floor():
    drift = {"agreement": 1.0, "sqnr_db": math.nan}
    evaluation = Evaluation("onnx", "onnxruntime", "1", 1, 10, None, None, None, drift)
    assert not gate.check([evaluation], gate.DriftBudget(1.0, 0.97, 12.0))[1].passed


def test_score_flips_carry_the_artifact_s_confidence_in_its_new_decision():
    reference = np.array([[0.9], [0.8], [0.1], [0.2]], dtype=np.float32)
    candidate = np.array([[0.45], [0.8], [0.95], [0.2]], dtype=np.float32)  # 0 flips weakly, 2 strongly
    stats = drift_statistics(reference, candidate, np.array([1, 1, 0, 0]))
    listed = stats["flips"]["listed"]
    assert [f["index"] for f in listed] == [2, 0] and listed[0]["confidence"] == pytest.approx(0.95)
    assert listed[1]["confidence"] == pytest.approx(0.55) and stats["flips"]["broken"] == 2
    assert [row["class"] for row in stats["per_class"]] == [0, 1]


# End to end: the burst detector (edgec_test_models.py), a [N, 1] probability on a raw signal, through both formats.


@pytest.fixture(scope="module")
def burst_data(tmp_path_factory):
    from edgec_test_models import burst_signals

    folder = tmp_path_factory.mktemp("burst")
    signals, _ = burst_signals(128, seed=1)
    np.savez(folder / "calib.npz", signal=signals)
    glitched, _ = burst_signals(128, seed=1, spike=1000.0)  # one glitch sample in 16: int8 input steps of ~8
    np.savez(folder / "calib_glitch.npz", signal=glitched)
    evaluation, labels = burst_signals(200, seed=2)
    np.savez(folder / "eval.npz", signal=evaluation)  # no labels: the case where argmax "agreed" 100%
    np.savez(folder / "eval_labelled.npz", signal=evaluation, labels=labels)
    return folder


def _compile_burst(folder, calib, evaluation, target, out, cache):
    source = "edgec_test_models:make_burst_detector"
    return naive_int8(
        source, folder / calib, folder / evaluation, out, cache, input_shapes=((1, 1, 256),), target=target
    )


@pytest.mark.slow
def test_the_burst_detector_passes_in_both_formats_judged_as_a_score(burst_data, tmp_path, session_cache):
    result = _compile_burst(burst_data, "calib.npz", "eval_labelled.npz", "rpi4", tmp_path / "good", session_cache)
    assert result.passed, result.report["gate"]["checks"]
    artifacts = {a["name"]: a["evaluation"] for a in result.report["artifacts"]}
    assert set(artifacts) == {"onnx", "tflite"}
    for evaluation in artifacts.values():
        assert evaluation["output_kind"] == {"name": "score", "threshold": 0.5}
        assert evaluation["float_accuracy"] >= 0.97  # thresholded; an argmax would say 0.5 (every label 0)
        assert evaluation["drift"]["agreement"] >= 0.97 and evaluation["drift"]["sqnr_db"] >= 30
    assert {c["metric"] for c in result.report["gate"]["checks"]} >= {"accuracy_drop_points", "sqnr_db"}
    assert "score output (decision at 0.5)" in (result.path / "report.md").read_text() + _summary(result)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["rpi4", "host-x86"])
def test_a_collapsed_int8_detector_fails_the_gate(burst_data, tmp_path, session_cache, target):
    result = _compile_burst(burst_data, "calib_glitch.npz", "eval.npz", target, tmp_path / "glitch", session_cache)
    assert not result.passed
    failed = {(c["artifact"], c["metric"]) for c in result.report["gate"]["checks"] if not c["passed"]}
    for artifact in result.report["artifacts"]:
        drift = artifact["evaluation"]["drift"]
        assert drift["agreement"] < 0.8 and drift["sqnr_db"] < 10, drift  # the decisions and the values collapsed
        assert {(artifact["name"], "agreement"), (artifact["name"], "sqnr_db")} <= failed


def _summary(result) -> str:
    from edgec.compiler.summary import summarize

    return summarize(result.report, result.path)


def test_an_integer_class_index_output_is_judged_by_its_values():
    """Issue 27 item 18: a model ending in ArgMax (int64 [N] output) got agreement 100% and PASS while its
    predictions changed: the argmax of one value is always 0."""
    reference = RNG.integers(0, 10, 200)
    candidate = reference.copy()
    candidate[:30] = (candidate[:30] + 1) % 10
    assert infer_kind(reference) == OutputKind("index")
    assert metrics.agreement(reference, candidate) == pytest.approx(170 / 200)
    assert metrics.accuracy(candidate, reference) == pytest.approx(170 / 200)


@pytest.mark.parametrize(
    ("outputs", "labels", "problem"),
    [
        (RNG.normal(size=(20, 10)), np.full(20, 99), r"label\(s\) \[99\] outside the output's 10 classes"),
        (RNG.normal(size=(20, 10)), np.full(20, -1), r"label\(s\) \[-1\] outside"),
        (RNG.uniform(0, 1, (20, 1)), np.full(20, 3), r"outside the output's 2 classes"),
        (RNG.normal(size=(20, 3, 4, 4)), np.zeros(20, np.int64), "no decisions"),
    ],
)
def test_labels_no_decision_can_match_are_refused(outputs, labels, problem):
    """Issue 27 item 17: labels outside the model's classes gave top-1 0% for float and int8 alike, drop 0.00,
    PASS. They are refused before anything is built, with the values and the classes there are."""
    from edgec.compiler.data import Dataset
    from edgec.compiler.errors import InputError
    from edgec.compiler.validation.evaluate import RunResult, settle_output_kind

    reference = RunResult(outputs, "onnxruntime", "x", 1)
    with pytest.raises(InputError, match=r"eval\.npz: labels do not fit the model's .* output: .*" + problem):
        settle_output_kind(reference, Dataset({"x": np.zeros((20, 1))}, labels, "eval.npz"), None)
    fine = Dataset({"x": np.zeros((20, 1))}, np.zeros(20, np.int64), "eval.npz")
    if outputs.ndim == 2:
        settle_output_kind(reference, fine, None)  # in range: accepted


def test_compile_refuses_labels_outside_the_classes_in_one_line(tiny_onnx, tiny_data, tmp_path, session_cache):
    from conftest import run_cli

    _, model = tiny_onnx
    np.savez(tmp_path / "eval.npz", image=tiny_data, labels=np.full(len(tiny_data), 99))
    np.savez(tmp_path / "calib.npz", image=tiny_data)
    data = ["--calib", str(tmp_path / "calib.npz"), "--eval", str(tmp_path / "eval.npz")]
    done = run_cli("compile", str(model), *data, "-o", str(tmp_path / "out"), "--quiet", cache=session_cache)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "labels do not fit the model's classes output: label(s) [99] outside the output's 10 classes" in lines[0]
    assert not (tmp_path / "out").exists()


def _frames(lines: list[list[int]], frames: int = 12, classes: int = 6) -> np.ndarray:
    """Per-frame scores whose greedy CTC decoding is each of `lines`: each symbol on two frames, a blank after."""
    out = np.full((len(lines), frames, classes), -5.0)
    out[:, :, 0] = 5.0  # blank everywhere first
    for n, line in enumerate(lines):
        for k, symbol in enumerate(line):
            out[n, 3 * k : 3 * k + 2, 0] = -5.0
            out[n, 3 * k : 3 * k + 2, symbol] = 5.0
    return out


def test_ctc_lines_are_decoded_greedily_and_judged_by_exact_match_and_characters():
    from edgec.runtimes.output_kinds import ctc_greedy

    kind = OutputKind("ctc")
    reference = _frames([[1, 2, 3], [4, 4, 5], [2], [3, 1]])
    assert ctc_greedy(reference[1]) == (4, 4, 5)  # a blank between repeats keeps both
    candidate = _frames([[1, 2, 3], [4, 5], [2], [3, 2]])  # line 1 lost a character, line 3 misread one
    drift = metrics.drift(reference, candidate, kind)
    assert drift["agreement"] == 0.5 and drift["char_accuracy"] == pytest.approx(1 - (1 / 3 + 1 / 2) / 4)
    labels = np.array([[1, 2, 3], [4, 4, 5], [2, -1, -1], [3, 1, -1]])
    assert metrics.accuracy(reference, labels, kind) == 1.0 and metrics.accuracy(candidate, labels, kind) == 0.5
    stats = drift_statistics(reference, candidate, labels, kind)
    assert stats["flips"]["count"] == 2 and stats["flips"]["listed"][0]["artifact_label"] == [4, 5]
    assert stats["drop_interval_points"][1] > 0 and "per_class" not in stats
    assert kind.label_problem(np.array([[1, 0, -1]] * 4), reference) == (
        "CTC labels must be 1 to 5 (0 is the blank), padded with -1"
    )


# End to end on lines and embeddings, both from the trained demo CNN (edgec_test_models.py).


@pytest.fixture(scope="module")
def line_data(tmp_path_factory):
    from edgec_test_models import digit_lines

    folder = tmp_path_factory.mktemp("lines")
    lines, _ = digit_lines(128, seed=1, split="calib")
    np.savez(folder / "calib.npz", line=lines)
    lines[::16, 0, 4, 4] = 1000.0  # one glitched pixel in 16 lines: int8 input steps of ~8
    np.savez(folder / "calib_glitch.npz", line=lines)
    lines, labels = digit_lines(200, seed=2, split="eval")
    np.savez(folder / "eval.npz", line=lines, labels=labels)
    return folder


def _compile_lines(folder, calib, target, out, cache):
    source, shapes = "edgec_test_models:make_digit_line_reader", ((1, 1, 8, 32),)
    evaluation = folder / "eval.npz"
    return naive_int8(source, folder / calib, evaluation, out, cache, input_shapes=shapes, input_names=("line",),
                      output_kind="ctc", target=target)  # fmt: skip


@pytest.mark.slow
def test_a_ctc_line_reader_is_judged_by_exact_match_in_both_formats(line_data, tmp_path, session_cache):
    result = _compile_lines(line_data, "calib.npz", "rpi4", tmp_path / "good", session_cache)
    assert result.passed, result.report["gate"]["checks"]
    artifacts = {a["name"]: a["evaluation"] for a in result.report["artifacts"]}
    assert set(artifacts) == {"onnx", "tflite"}
    for evaluation in artifacts.values():
        assert evaluation["output_kind"] == {"name": "ctc"}
        assert evaluation["float_accuracy"] > 0.9  # whole lines read right by the float model
        assert evaluation["accuracy_drop_points"] <= 1.0 and evaluation["drift"]["char_accuracy"] > 0.99
    assert "char accuracy" in _summary(result)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["rpi4", "host-x86"])
def test_a_collapsed_ctc_line_reader_fails_the_gate(line_data, tmp_path, session_cache, target):
    result = _compile_lines(line_data, "calib_glitch.npz", target, tmp_path / "glitch", session_cache)
    assert not result.passed and result.report["artifacts"]
    for artifact in result.report["artifacts"]:
        assert artifact["evaluation"]["accuracy_drop_points"] > 50, artifact["evaluation"]


@pytest.mark.slow
def test_an_embedding_declared_regression_is_judged_by_sqnr(digits_npz, tmp_path, session_cache):

    def build(calib, name):
        return naive_int8("edgec_test_models:make_digit_embedder", calib, tmp_path / "eval.npz", tmp_path / name,
                          session_cache, input_shapes=((1, 1, 8, 8),), input_names=("image",),
                          output_kind="regression", target="rpi4")  # fmt: skip

    images = np.load(digits_npz["calib"])["image"]
    np.savez(tmp_path / "eval.npz", image=np.load(digits_npz["eval"])["image"])  # no labels: an embedding has none
    good = build(digits_npz["calib"], "good")
    assert good.passed, good.report["gate"]["checks"]
    for artifact in good.report["artifacts"]:
        assert artifact["evaluation"]["output_kind"] == {"name": "regression"}
        assert artifact["evaluation"]["drift"]["agreement"] is None and artifact["evaluation"]["drift"]["sqnr_db"] > 25
    judged = {c["metric"] for c in good.report["gate"]["checks"]}
    assert "sqnr_db" in judged and "agreement" not in judged  # no decisions: SQNR is the judge
    glitched = images.copy()
    glitched[::16, 0, 4, 4] = 1000.0
    np.savez(tmp_path / "glitch.npz", image=glitched)
    bad = build(tmp_path / "glitch.npz", "glitch")
    failed = {(c["artifact"], c["metric"]) for c in bad.report["gate"]["checks"] if not c["passed"]}
    assert not bad.passed and {(a["name"], "sqnr_db") for a in bad.report["artifacts"]} <= failed
