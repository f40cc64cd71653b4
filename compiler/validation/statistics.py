"""How sure a drift number is, and which samples make it: bootstrap intervals, per-class deltas, flips.

A 0.6-point drop on 360 images is two or three flipped predictions; a gate that trips on it trips on noise. The
evaluation set is one sample of the data the model will see, so each accuracy gets a percentile-bootstrap
interval, and the drop gets a *paired* one (the float model and the artifact are resampled on the same images:
most images are right for both, so the drop's interval is much narrower than the two accuracies' intervals
suggest). The resampling is seeded: the same outputs always give the same intervals.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtimes.output_kinds import OutputKind, infer_kind

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0
CONFUSION_MAX_CLASSES = 64  # beyond this a matrix is unreadable and large; per-class deltas remain


def _indices(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def accuracy_interval(
    correct: np.ndarray, resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the accuracy, from one 0/1 correctness per sample."""
    values = correct.astype(np.float64)[_indices(len(correct), resamples, seed)].mean(axis=1)
    return _interval(values, level)


def drop_interval(
    float_correct: np.ndarray,
    artifact_correct: np.ndarray,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> tuple[float, float]:
    """Paired bootstrap interval of the accuracy drop in points (float minus artifact, same resampled images)."""
    difference = float_correct.astype(np.float64) - artifact_correct.astype(np.float64)
    values = 100 * difference[_indices(len(difference), resamples, seed)].mean(axis=1)
    return _interval(values, level)


def per_class(labels: np.ndarray, float_predictions: np.ndarray, predictions: np.ndarray) -> list[dict[str, Any]]:
    """Accuracy of the float model and the artifact per true class, and the change in points."""
    rows = []
    for label in np.unique(labels):
        mask = labels == label
        float_accuracy = float(np.mean(float_predictions[mask] == label))
        accuracy = float(np.mean(predictions[mask] == label))
        rows.append(
            {
                "class": int(label),
                "samples": int(mask.sum()),
                "float_accuracy": round(float_accuracy, 6),
                "accuracy": round(accuracy, 6),
                "delta_points": round(100 * (accuracy - float_accuracy), 4),
            }
        )
    return rows


def confusion_delta(labels: np.ndarray, float_predictions: np.ndarray, predictions: np.ndarray) -> dict | None:
    """The artifact's confusion matrix minus the float model's (rows: true class, columns: predicted): where
    the samples that moved went. Only the classes that occur anywhere are rows and columns."""
    classes = np.unique(np.concatenate([labels, float_predictions, predictions]))
    if len(classes) > CONFUSION_MAX_CLASSES:
        return None
    position = {int(c): i for i, c in enumerate(classes)}
    delta = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for true, before, after in zip(labels, float_predictions, predictions, strict=True):
        delta[position[int(true)], position[int(after)]] += 1
        delta[position[int(true)], position[int(before)]] -= 1
    return {"classes": [int(c) for c in classes], "delta": delta.tolist()}


def _softmax(outputs: np.ndarray) -> np.ndarray:
    """Scores as probabilities: kept as they are when they already are, else a softmax of the logits."""
    rows = outputs.reshape(len(outputs), -1).astype(np.float64)
    if np.all(rows >= 0) and np.allclose(rows.sum(axis=1), 1.0, atol=1e-3):
        return rows
    shifted = np.exp(rows - rows.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _confidence(candidate: np.ndarray, kind: OutputKind, decided: np.ndarray) -> np.ndarray:
    """The artifact's probability for its own decision per sample: a softmax for classes, the score itself (or
    its sigmoid, for logits) for a score."""
    if kind.name == "classes":
        return _softmax(candidate)[np.arange(len(decided)), decided]
    score = candidate.reshape(len(candidate), -1)[:, 0].astype(np.float64)
    probability = score if kind.threshold == 0.5 else 1 / (1 + np.exp(-score))
    return np.where(decided == 1, probability, 1 - probability)


def flips(
    reference: np.ndarray,
    candidate: np.ndarray,
    labels: np.ndarray | None,
    kind: OutputKind | None = None,
    limit: int = 50,
) -> dict[str, Any] | None:
    """Samples whose decision changed between the float model and the artifact, most confident first.

    `confidence` is the artifact's probability for its own (new) decision; a confident flip is a real
    change of mind, a low one a near tie tipped by rounding. `fixed`/`broken` count flips that became right or
    wrong (with labels). A sequence lists the samples with the most changed positions; a regression output
    has no decisions, so no flips."""
    kind = kind or infer_kind(reference)
    float_top, top = kind.decisions(reference), kind.decisions(candidate)
    if float_top is None or top is None:
        return None
    if top.ndim == 2:
        return _sequence_flips(float_top, top, limit)
    if top.dtype == object:  # decoded lines (ctc): which samples read differently, and what each read
        return _line_flips(float_top, top, labels, limit)
    confidence_all = _confidence(candidate, kind, top)
    changed = np.flatnonzero(float_top != top)
    order = changed[np.argsort(-confidence_all[changed], kind="stable")]
    items = [
        {
            "index": int(i),
            "float_label": int(float_top[i]),
            "artifact_label": int(top[i]),
            "label": None if labels is None else int(np.asarray(labels).reshape(-1)[i]),
            "confidence": round(float(confidence_all[i]), 5),
        }
        for i in order[:limit]
    ]
    summary: dict[str, Any] = {"count": len(changed), "listed": items}
    if labels is not None:
        flat = np.asarray(labels).reshape(-1)
        summary["broken"] = int(np.sum((float_top[changed] == flat[changed]) & (top[changed] != flat[changed])))
        summary["fixed"] = int(np.sum((float_top[changed] != flat[changed]) & (top[changed] == flat[changed])))
    return summary


def _line_flips(float_top: np.ndarray, top: np.ndarray, labels: np.ndarray | None, limit: int) -> dict[str, Any]:
    changed = np.flatnonzero(float_top != top)
    truth = None if labels is None else [[int(v) for v in row if v >= 0] for row in np.asarray(labels)]
    items = [
        {
            "index": int(i),
            "float_label": list(float_top[i]),
            "artifact_label": list(top[i]),
            "label": None if truth is None else truth[i],
            "confidence": None,
        }
        for i in changed[:limit]
    ]
    return {"count": len(changed), "listed": items}


def _sequence_flips(float_top: np.ndarray, top: np.ndarray, limit: int) -> dict[str, Any]:
    moved = (float_top != top).sum(axis=1)
    changed = np.flatnonzero(moved)
    order = changed[np.argsort(-moved[changed], kind="stable")]
    items = [
        {"index": int(i), "positions_changed": int(moved[i]), "positions": int(top.shape[1])} for i in order[:limit]
    ]
    return {"count": len(changed), "listed": items}


def worst(reference: np.ndarray, candidate: np.ndarray, k: int = 10) -> list[dict[str, Any]]:
    """The k samples whose outputs moved most (RMS over the output), with their SQNR: where to look first."""
    ref = reference.reshape(len(reference), -1).astype(np.float64)
    out = candidate.reshape(len(candidate), -1).astype(np.float64)
    rms = np.sqrt(np.mean((out - ref) ** 2, axis=1))
    signal = np.mean(ref**2, axis=1)
    order = np.argsort(-rms, kind="stable")[:k]
    return [
        {
            "index": int(i),
            "rmse": round(float(rms[i]), 6),
            "sqnr_db": round(float(10 * np.log10(signal[i] / max(rms[i] ** 2, 1e-30))), 3) if signal[i] else None,
        }
        for i in order
    ]


def drift_statistics(
    reference: np.ndarray,
    candidate: np.ndarray,
    labels: np.ndarray | None,
    kind: OutputKind | None = None,
    limit: int = 50,
    k: int = 10,
) -> dict[str, Any]:
    """Everything above for one artifact against the float baseline, as report.json stores it; the intervals
    are over per-sample correctness (a sequence's fraction of right positions), per-class rows and the
    confusion delta only where a sample has one decision."""
    kind = kind or infer_kind(reference)
    result: dict[str, Any] = {
        "resamples": RESAMPLES,
        "level": LEVEL,
        "flips": flips(reference, candidate, labels, kind, limit),
        "worst": worst(reference, candidate, k),
    }
    float_correct, correct = (
        (None, None) if labels is None else (kind.correct(reference, labels), kind.correct(candidate, labels))
    )
    if float_correct is not None and correct is not None:
        result["accuracy_interval"] = [round(v, 6) for v in accuracy_interval(correct)]
        result["float_accuracy_interval"] = [round(v, 6) for v in accuracy_interval(float_correct)]
        result["drop_interval_points"] = [round(v, 4) for v in drop_interval(float_correct, correct)]
        float_top, top = kind.decisions(reference), kind.decisions(candidate)
        if labels is not None and float_top is not None and top is not None and top.ndim == 1 and top.dtype != object:
            flat = np.asarray(labels).reshape(-1)
            result["per_class"] = per_class(flat, float_top, top)
            result["confusion_delta"] = confusion_delta(flat, float_top, top)
    return result
