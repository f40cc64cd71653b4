"""What a model's output means, so drift is judged by what the output does rather than by one argmax.

A single argmax over the flattened output is right for [N, C] class scores only. On a [N, 1] speech
probability it is always 0, so "agreement 100%" held while the int8 artifact had lost the speech detector
(F1 0.036 against 0.972); on [N, T, C] per-frame classes it compares one cell of T*C. Each kind therefore says
what a *decision* is:

- classes    [N, C]       the argmax class per sample;
- score      [N] / [N, 1] the thresholded decision per sample (0.5 for probabilities, 0 for logits);
- sequence   [N, T, C]    the argmax class per position (agreement is the fraction of positions);
- ctc        [N, T, C] per-frame scores of a CTC recognizer (declared): the greedy decoding (argmax per
             frame, repeats merged, blank 0 dropped) is the decision, exact match its agreement and accuracy
             (labels [N, L], padded with -1), and drift adds the character accuracy (1 - edit distance / length);
- index      integer outputs (an ArgMax inside the model): the value itself is the decision;
- regression anything else (embeddings, images, states): no decision; judged by SQNR, cosine and error.

The kind is inferred from the float model's own outputs, or declared (`--output-kind`) where the shape cannot
tell, such as an [N, 128] embedding that looks like 128 class scores. numpy only: the device harness uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

KIND_NAMES = ("classes", "score", "sequence", "ctc", "index", "regression")
CTC_BLANK = 0


@dataclass(frozen=True)
class OutputKind:
    name: str
    threshold: float = 0.0  # score only: the decision boundary

    def decisions(self, outputs: np.ndarray) -> np.ndarray | None:
        """Per-sample decisions ([N], or [N, T] for a sequence); None when the output has none (regression)."""
        rows = outputs.reshape(len(outputs), -1)
        if self.name == "classes":
            return rows.argmax(axis=1)
        if self.name == "score":
            return (rows[:, 0] > self.threshold).astype(np.int64)
        if self.name == "sequence":
            return outputs.reshape(len(outputs), outputs.shape[1], -1).argmax(axis=2)
        if self.name == "index":
            return rows[:, 0].astype(np.int64) if rows.shape[1] == 1 else rows.astype(np.int64)
        if self.name == "ctc":
            return _as_objects([ctc_greedy(frames) for frames in outputs.reshape(len(outputs), outputs.shape[1], -1)])
        return None

    def correct(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
        """Per-sample correctness in [0, 1] (a sequence's fraction of right positions); None without decisions."""
        decided = self.decisions(outputs)
        if decided is None:
            return None
        labels = np.asarray(labels)
        if self.name == "ctc":
            return (decided == _as_objects([_unpadded(row) for row in labels.reshape(len(labels), -1)])).astype(float)
        if decided.ndim == 2:
            return (decided == labels.reshape(decided.shape)).mean(axis=1)
        return (decided == labels.reshape(len(labels))).astype(np.float64)

    def label_problem(self, labels: np.ndarray, reference: np.ndarray) -> str | None:
        """Why `labels` cannot be the ground truth of this output, or None. Labels no class can match (99 for
        10 classes, -1) made both accuracies 0% and the drop 0.00: a PASS that measured nothing."""
        decided = self.decisions(reference)
        if decided is None:
            return "the output has no decisions (a regression output), so labels cannot be scored; drop them"
        labels = np.asarray(labels)
        if self.name == "ctc":
            return _ctc_label_problem(labels, reference)
        if labels.size != decided.size:
            return f"{labels.size} label values for {decided.size} decisions (output shape {reference.shape})"
        if not np.issubdtype(labels.dtype, np.integer) and not np.all(np.mod(labels, 1) == 0):
            return "labels must be whole numbers (class indices)"
        allowed = {"classes": reference.reshape(len(reference), -1).shape[1], "score": 2}.get(self.name)
        if self.name == "sequence":
            allowed = reference.shape[2] if reference.ndim == 3 else None
        if allowed is not None and (labels.min() < 0 or labels.max() >= allowed):
            outside = sorted({int(v) for v in labels.reshape(-1) if not 0 <= v < allowed})[:5]
            return f"label(s) {outside} outside the output's {allowed} classes (0 to {allowed - 1})"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "threshold": self.threshold} if self.name == "score" else {"name": self.name}

    def describe(self) -> str:
        return f"score (decision at {self.threshold:g})" if self.name == "score" else self.name


def infer_kind(reference: np.ndarray, declared: str | None = None) -> OutputKind:
    """The kind of an output from the float model's values over the evaluation set, or the declared one."""
    if declared is not None and declared not in KIND_NAMES:
        raise ValueError(f"unknown output kind {declared!r}: use one of {', '.join(KIND_NAMES)}")
    per_sample = reference.shape[1:]
    integer = np.issubdtype(reference.dtype, np.integer)
    name = declared or ("index" if integer else _kind_from_shape(per_sample))
    if name == "score":
        probabilities = bool(np.all((reference >= 0) & (reference <= 1)))
        return OutputKind("score", 0.5 if probabilities else 0.0)
    return OutputKind(name)


def _kind_from_shape(per_sample: tuple[int, ...]) -> str:
    if int(np.prod(per_sample, dtype=np.int64)) == 1:
        return "score"
    if len(per_sample) == 1:
        return "classes"
    if len(per_sample) == 2:
        return "sequence"
    return "regression"


def ctc_greedy(frames: np.ndarray) -> tuple[int, ...]:
    """Best-path CTC decoding of one sample's [T, C] scores: argmax per frame, repeats merged, blanks dropped."""
    best = frames.argmax(axis=1)
    merged = best[np.concatenate([[True], best[1:] != best[:-1]])]
    return tuple(int(c) for c in merged if c != CTC_BLANK)


def char_accuracy(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Mean over samples of 1 - edit distance / reference length, both decoded greedily: how much of each line
    survives, where exact match counts a line with one wrong character as lost."""
    kind = OutputKind("ctc")
    lines, read = kind.decisions(reference), kind.decisions(candidate)
    assert lines is not None and read is not None  # a ctc kind always decides
    scores = [1.0 - _edit_distance(ref, cand) / max(len(ref), 1) for ref, cand in zip(lines, read, strict=True)]
    return float(np.mean(scores)) if scores else 1.0


def _edit_distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _as_objects(items: list[tuple[int, ...]]) -> np.ndarray:
    """A 1-D object array of tuples (np.array would make equal-length tuples a 2-D int array)."""
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _unpadded(row: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in row if v >= 0)


def _ctc_label_problem(labels: np.ndarray, reference: np.ndarray) -> str | None:
    if reference.ndim != 3:
        return f"a CTC output is [N, T, C]; this one is {reference.shape}"
    if labels.ndim != 2 or len(labels) != len(reference):
        return f"CTC labels are [N, L] class indices padded with -1; these are {labels.shape}"
    used = labels[labels >= 0]
    if used.size and (used.max() >= reference.shape[2] or (used == CTC_BLANK).any()):
        return f"CTC labels must be 1 to {reference.shape[2] - 1} (0 is the blank), padded with -1"
    return None
