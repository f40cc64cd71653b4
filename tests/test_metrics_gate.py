"""Drift metrics against hand-computed values, and the gate's pass/fail decisions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgec.compiler.validation import gate
from edgec.compiler.validation.evaluate import Evaluation
from edgec.runtimes import metrics


def test_identical_outputs_are_perfect():
    x = np.random.default_rng(0).normal(size=(32, 10)).astype(np.float32)
    d = metrics.drift(x, x.copy())
    assert d["agreement"] == 1.0 and d["max_abs"] == 0.0 and math.isinf(d["sqnr_db"])
    assert d["cosine"] == pytest.approx(1.0)


def test_values_match_their_definitions():
    ref = np.array([[1.0, 0.0], [0.0, 2.0]])
    cand = np.array([[0.0, 1.0], [0.0, 2.0]])
    assert metrics.agreement(ref, cand) == 0.5
    assert metrics.cosine(ref, cand) == pytest.approx(0.5)  # orthogonal row (0) and identical row (1)
    assert metrics.max_abs(ref, cand) == 1.0
    # signal 1 + 4 = 5, noise 1 + 1 = 2 -> 10 log10(2.5)
    assert metrics.sqnr_db(ref, cand) == pytest.approx(10 * math.log10(2.5))
    assert metrics.accuracy(ref, np.array([0, 0])) == 0.5


def test_noise_lowers_sqnr_by_the_expected_amount():
    rng = np.random.default_rng(1)
    signal = rng.normal(size=(1000, 10))
    noisy = signal + 0.1 * rng.normal(size=signal.shape)  # ~ 20 dB
    assert 19 < metrics.sqnr_db(signal, noisy) < 21


def _evaluation(drop: float | None, agreement: float) -> Evaluation:
    return Evaluation("a", "onnxruntime", "x", 1, 10, None, None, drop, {"agreement": agreement})


def test_gate_uses_accuracy_drop_with_labels_and_agreement_without():
    ok, bad = gate.check([_evaluation(0.5, 0.9), _evaluation(1.5, 1.0)], gate.DriftBudget(1.0, 0.99))
    assert ok.passed and ok.metric == "accuracy_drop_points"
    assert not bad.passed and "OVER BUDGET" in bad.describe()
    (unlabelled,) = gate.check([_evaluation(None, 0.95)], gate.DriftBudget(1.0, 0.97))
    assert unlabelled.metric == "agreement" and not unlabelled.passed
