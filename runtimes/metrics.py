"""Output-drift metrics between a reference (float) and a candidate (artifact), numpy only.

Chosen because each answers a different question: accuracy and agreement what a user sees (decided by the
output's kind, see output_kinds.py; a regression output has neither), cosine and
SQNR how much signal survives (SQNR in dB is comparable across models), rmse and mae the error in the
output's own units (ST Edge AI's `validate` reports both), max-abs the worst single value.
"""

from __future__ import annotations

import numpy as np

from .output_kinds import OutputKind, char_accuracy, infer_kind


def accuracy(outputs: np.ndarray, labels: np.ndarray, kind: OutputKind | None = None) -> float | None:
    """The kind's accuracy against labels (a sequence's per-position accuracy); None for a regression output.
    Without `kind` the outputs' own shape decides, as for the float model's."""
    correct = (kind or infer_kind(outputs)).correct(outputs, labels)
    return None if correct is None else float(correct.mean())


def agreement(reference: np.ndarray, candidate: np.ndarray, kind: OutputKind | None = None) -> float | None:
    """How often the candidate decides as the reference does (per position for a sequence); None without
    decisions. The kind comes from the reference (the float model) unless given."""
    kind = kind or infer_kind(reference)
    ref, cand = kind.decisions(reference), kind.decisions(candidate)
    return None if ref is None or cand is None else float((ref == cand).mean())


def cosine(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Mean per-sample cosine similarity (per-sample so one large-norm sample cannot dominate)."""
    ref = reference.reshape(len(reference), -1).astype(np.float64)
    cand = candidate.reshape(len(candidate), -1).astype(np.float64)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1)
    both_zero = norms == 0
    sims = np.where(both_zero, 1.0, (ref * cand).sum(axis=1) / np.where(both_zero, 1.0, norms))
    return float(sims.mean())


def max_abs(reference: np.ndarray, candidate: np.ndarray) -> float:
    return float(np.abs(reference.astype(np.float64) - candidate).max())


def rmse(reference: np.ndarray, candidate: np.ndarray) -> float:
    return float(np.sqrt(((reference.astype(np.float64) - candidate) ** 2).mean()))


def mae(reference: np.ndarray, candidate: np.ndarray) -> float:
    return float(np.abs(reference.astype(np.float64) - candidate).mean())


def sqnr_db(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB; inf when the outputs are identical."""
    ref = reference.astype(np.float64)
    noise = float(((ref - candidate) ** 2).sum())
    signal = float((ref**2).sum())
    if noise == 0:
        return float("inf")
    return float(10 * np.log10(signal / noise)) if signal > 0 else float("-inf")


def drift(reference: np.ndarray, candidate: np.ndarray, kind: OutputKind | None = None) -> dict[str, float | None]:
    extra = {"char_accuracy": char_accuracy(reference, candidate)} if kind is not None and kind.name == "ctc" else {}
    return extra | {
        "agreement": agreement(reference, candidate, kind),
        "rmse": rmse(reference, candidate),
        "mae": mae(reference, candidate),
        "cosine": cosine(reference, candidate),
        "max_abs": max_abs(reference, candidate),
        "sqnr_db": sqnr_db(reference, candidate),
    }
