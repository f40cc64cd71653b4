"""Optimal-brain-surgeon pruning of one layer, the SparseGPT way (Frantar & Alistarh, 2023).

Magnitude and Wanda only choose which weights to zero. OBS also moves the weights that stay, so the layer's
output on calibration data changes as little as possible: zeroing w_i costs w_i^2 / [H^-1]_ii in squared
output error (H = X^T X of the layer's input rows) and is best compensated by shifting the remaining weights
along row i of H^-1. SparseGPT makes that affordable for a whole layer at once: columns are visited left to
right, each column's error is pushed only onto the columns after it, and with the upper Cholesky factor of
H^-1 every step is one rank-1 update shared by all output rows. The mask is chosen per block of columns by the
same saliency, after the earlier blocks' updates.

The bias rides along as a last input column of ones that is never pruned: it is updated last, so it absorbs
the mean of every pruned weight's contribution.
"""

from __future__ import annotations

import numpy as np

BLOCK = 128
DAMPING = 0.01  # share of the mean diagonal added to H: keeps the inverse finite for correlated or dead inputs


def obs_prune(
    weights: np.ndarray, gram: np.ndarray, sparsity: float, per_output: bool, has_bias: bool = True
) -> np.ndarray:
    """Prune `sparsity` of the (out, d) weights and update the rest; with `has_bias` the last column is the bias
    (an input of ones), kept and updated.

    `gram` is the (d, d) X^T X of the layer's input rows. Returns the new (out, d) weights."""
    w = weights.astype(np.float64).copy()
    h = gram.astype(np.float64).copy()
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0  # an input that is always zero: its weights cost nothing and move nothing
    h[np.diag_indices_from(h)] += DAMPING * np.mean(np.diag(h))
    upper = np.linalg.cholesky(np.linalg.inv(h)).T  # H^-1 = U^T U
    prunable = w.shape[1] - 1 if has_bias else w.shape[1]
    for start in range(0, prunable, BLOCK):
        end = min(start + BLOCK, prunable)
        block, block_upper = w[:, start:end].copy(), upper[start:end, start:end]
        saliency = block**2 / np.diag(block_upper)[None, :] ** 2
        pruned = lowest_share(saliency, sparsity, per_output)
        errors = np.zeros_like(block)
        for i in range(end - start):
            column = block[:, i]
            kept = np.where(pruned[:, i], 0.0, column)
            errors[:, i] = (column - kept) / block_upper[i, i]
            block[:, i:] -= np.outer(errors[:, i], block_upper[i, i:])
            block[:, i] = kept
        w[:, start:end] = block
        w[:, end:] -= errors @ upper[start:end, end:]
    return w


def lowest_share(scores: np.ndarray, share: float, per_row: bool) -> np.ndarray:
    """True for the `share` of a 2-D array's entries with the lowest scores: in each row, or over the whole."""
    if per_row:
        cut = round(share * scores.shape[1])
        ranks = np.argsort(np.argsort(scores, axis=1, kind="stable"), axis=1)
        return ranks < cut
    cut = round(share * scores.size)
    order = np.argsort(scores, axis=None, kind="stable")
    mask = np.zeros(scores.size, dtype=bool)
    mask[order[:cut]] = True
    return mask.reshape(scores.shape)
