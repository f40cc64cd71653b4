"""Drift statistics: bootstrap intervals that mean something, flips and per-class deltas that add up."""

from __future__ import annotations

import numpy as np
import pytest

from edgec.compiler.validation import gate
from edgec.compiler.validation.evaluate import Evaluation
from edgec.compiler.validation.statistics import accuracy_interval, drift_statistics, drop_interval, flips


def test_the_accuracy_interval_holds_the_estimate_and_narrows_with_more_samples():
    rng = np.random.default_rng(1)
    small, large = rng.random(100) < 0.9, rng.random(10_000) < 0.9
    low, high = accuracy_interval(small)
    assert low <= small.mean() <= high and 0.08 < high - low < 0.16  # binomial: 2 * 1.96 * sqrt(.09 / 100) = 0.118
    low_l, high_l = accuracy_interval(large)
    assert 0.008 < high_l - low_l < 0.016  # ten times narrower for 100 times the samples
    assert accuracy_interval(small) == accuracy_interval(small)  # seeded: the same data, the same interval


def test_the_paired_drop_interval_is_narrow_when_both_models_agree_on_most_samples():
    rng = np.random.default_rng(2)
    float_correct = rng.random(2000) < 0.9
    artifact_correct = float_correct.copy()
    artifact_correct[np.flatnonzero(float_correct)[:20]] = False  # 20 of 2000 broken: a 1.0-point drop
    low, high = drop_interval(float_correct, artifact_correct)
    assert low <= 1.0 <= high and high - low < 1.0  # ~ 2 * 1.96 * sqrt(20) / 2000 * 100 = 0.88 points
    # resampled independently the same two accuracies would give an interval about 3.7 points wide
    assert drop_interval(float_correct, float_correct) == (0.0, 0.0)


def test_flips_are_counted_split_into_broken_and_fixed_and_listed_most_confident_first():
    reference = np.array([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0], [5.0, 0, 0]])
    candidate = np.array([[0, 1.0, 0], [0, 5.0, 0], [9.0, 0, 0], [5.0, 0, 0]])  # samples 0 and 2 flip
    labels = np.array([0, 1, 0, 0])
    found = flips(reference, candidate, labels)
    assert (found["count"], found["broken"], found["fixed"]) == (2, 1, 1)
    assert [f["index"] for f in found["listed"]] == [2, 0]  # 2's new answer is near certain, 0's a near tie
    assert found["listed"][0] == {"index": 2, "float_label": 2, "artifact_label": 0, "label": 0, "confidence": 0.99975}


def test_per_class_deltas_add_up_to_the_overall_drop():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 400)
    reference = np.eye(4)[labels] * 3 + rng.normal(0, 1, (400, 4))
    candidate = reference + rng.normal(0, 1.5, (400, 4))
    stats = drift_statistics(reference, candidate, labels)
    rows = stats["per_class"]
    assert sum(r["samples"] for r in rows) == 400
    weighted = sum(r["delta_points"] * r["samples"] for r in rows) / 400
    drop = 100 * (np.mean(reference.argmax(1) == labels) - np.mean(candidate.argmax(1) == labels))
    assert weighted == pytest.approx(-drop, abs=1e-3)
    assert stats["flips"]["count"] == int(np.sum(reference.argmax(1) != candidate.argmax(1)))
    assert stats["worst"][0]["rmse"] >= stats["worst"][-1]["rmse"]


def test_the_gate_can_hold_the_interval_s_upper_end_to_the_budget():
    evaluation = Evaluation("onnx", "onnxruntime", "1", 1, 360, 0.98, 0.985, 0.5, {"agreement": 0.99})
    evaluation.statistics = {"drop_interval_points": [-0.3, 1.4]}
    (point,) = gate.check([evaluation], gate.DriftBudget(1.0, 0.97))
    (bound,) = gate.check([evaluation], gate.DriftBudget(1.0, 0.97), on_bound=True)
    assert point.passed and point.value == 0.5
    assert not bound.passed and bound.value == 1.4 and bound.metric == "accuracy_drop_upper_bound_points"


def test_the_confusion_delta_moves_each_flipped_sample_from_its_old_cell_to_its_new_one():
    from edgec.compiler.validation.statistics import confusion_delta

    labels = np.array([0, 0, 1, 1, 2, 2])
    float_top = np.array([0, 0, 1, 1, 2, 1])
    top = np.array([0, 2, 1, 1, 2, 2])  # sample 1 broken (0 -> 2), sample 5 fixed (1 -> 2)
    found = confusion_delta(labels, float_top, top)
    delta = np.array(found["delta"])
    assert found["classes"] == [0, 1, 2] and delta.sum() == 0 and delta.sum(axis=1).tolist() == [0, 0, 0]
    assert delta[0, 0] == -1 and delta[0, 2] == 1 and delta[2, 1] == -1 and delta[2, 2] == 1
    assert np.count_nonzero(delta) == 4


def test_search_candidates_are_judged_on_the_bound_when_the_build_is():
    """A candidate with a 0.5-point drop measured on 400 samples passes a 1-point budget on the point value
    but not on its bound: the fallback search must not choose what the final gate then refuses."""
    from edgec.compiler.data import Dataset
    from edgec.compiler.search import judged
    from edgec.compiler.validation.evaluate import RunResult

    labels = np.arange(400) % 4
    reference = np.eye(4, dtype=np.float32)[labels]
    candidate = reference.copy()
    candidate[:2] = np.eye(4, dtype=np.float32)[(labels[:2] + 1) % 4]  # 2 of 400 broken: 0.5 points
    data = Dataset({"x": np.zeros((400, 1), np.float32)}, labels, "crafted")
    runs = [RunResult(outputs, "onnxruntime", "test", 1) for outputs in (reference, candidate)]
    point, passed_on_point = judged("onnx", *runs, data, gate.DriftBudget(1.0, 0.97), on_bound=False)
    bound, passed_on_bound = judged("onnx", *runs, data, gate.DriftBudget(1.0, 0.97), on_bound=True)
    assert point.accuracy_drop_points == 0.5 and passed_on_point
    assert bound.statistics["drop_interval_points"][1] > 1.0 and not passed_on_bound
