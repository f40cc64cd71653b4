"""The built-in demo data: scikit-learn's 8x8 digits, pre-split, loadable with numpy alone.

Imports only numpy so the compiler, the tests and a device can read calibration and evaluation data without
paying for torch or scikit-learn. The images ship as uint8 (0..16) in data/digits.npz, written by
train_digits.py together with fixed index arrays, so every build sees the same split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

INPUT_SHAPE = (1, 1, 8, 8)
NUM_CLASSES = 10
INPUT_NAME = "image"
SPLITS = ("train", "calib", "eval")
DATA_PATH = Path(__file__).resolve().parent / "data" / "digits.npz"
PIXEL_MAX = 16.0  # load_digits pixels count set pixels in a 4x4 block of the original 32x32 bitmap

__all__ = ["DATA_PATH", "INPUT_NAME", "INPUT_SHAPE", "NUM_CLASSES", "SPLITS", "load_split"]


def load_split(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (images float32 (N, 1, 8, 8) in [0, 1], labels int64 (N,)) for "train", "calib" or "eval".

    "eval" never overlaps the other two; "calib" is drawn from the training portion, as in usual PTQ.
    """
    if name not in SPLITS:
        raise ValueError(f"unknown digits split {name!r}; valid splits are {', '.join(map(repr, SPLITS))}")
    if not DATA_PATH.is_file():
        raise FileNotFoundError(f"{DATA_PATH} is missing; regenerate it with `python -m edgec.models.train_digits`")
    with np.load(DATA_PATH, allow_pickle=False) as archive:
        index = archive[f"{name}_idx"]
        images = archive["images"][index]
        labels = archive["labels"][index]
    x = (images.astype(np.float32) / np.float32(PIXEL_MAX)).reshape(len(index), *INPUT_SHAPE[1:])
    return x, labels.astype(np.int64)
