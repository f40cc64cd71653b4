"""Calibration/evaluation data: formats accepted, and each kind of bad data named in one clear message."""

from __future__ import annotations

import numpy as np
import pytest

from edgec.compiler.data import load_dataset
from edgec.compiler.errors import InputError
from edgec.compiler.kinds import TensorSpec

SPEC = [TensorSpec("image", (1, 8, 8), "float32", "batch")]


def _npz(tmp_path, **arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def test_npz_keyed_by_input_name_with_labels(tmp_path):
    x = np.zeros((5, 1, 8, 8), np.float64)
    data = load_dataset(_npz(tmp_path, image=x, labels=np.arange(5)), SPEC, "calib")
    assert len(data) == 5 and data.inputs["image"].dtype == np.float32 and data.labels.dtype == np.int64


def test_single_input_accepts_any_key_and_npy(tmp_path):
    assert len(load_dataset(_npz(tmp_path, x=np.zeros((3, 1, 8, 8))), SPEC, "calib")) == 3
    np.save(tmp_path / "d.npy", np.ones((4, 1, 8, 8), np.uint8))
    assert load_dataset(tmp_path / "d.npy", SPEC, "eval").inputs["image"][:].max() == 1.0


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"image": np.zeros((5, 1, 28, 28))}, r"samples of shape \(1, 28, 28\).*expects \(1, 8, 8\)"),
        ({"image": np.full((5, 1, 8, 8), np.nan)}, "contains 320 NaN/Inf"),
        ({"image": np.zeros((0, 1, 8, 8))}, "is empty"),
        ({"image": np.zeros((5, 1, 8, 8)), "labels": np.zeros(4, int)}, "different sample counts"),
        ({"image": np.zeros((5, 1, 8, 8)), "labels": np.zeros(5)}, "'labels' must be integer class indices"),
        ({"image": np.zeros((5, 1, 8, 8)), "labels": np.zeros((5, 2, 2), int)}, "got int64 \\(5, 2, 2\\)"),
        ({"a": np.zeros((5, 1, 8, 8)), "b": np.zeros((5, 1, 8, 8))}, r"no array for model input\(s\) \['image'\]"),
        ({"image": np.array(["a"] * 5)}, "expected numbers"),
    ],
)
def test_bad_data_is_one_clear_error(tmp_path, arrays, message):
    with pytest.raises(InputError, match=message) as info:
        load_dataset(_npz(tmp_path, **arrays), SPEC, "calib")
    assert str(info.value).startswith("--calib ") and "\n" not in str(info.value)


def test_unreadable_files(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(InputError, match=r"cannot read as \.npz"):
        load_dataset(tmp_path / "bad.npz", SPEC, "calib")
    with pytest.raises(InputError, match="file not found"):
        load_dataset(tmp_path / "missing.npz", SPEC, "eval")
    (tmp_path / "d.csv").write_text("1,2")
    with pytest.raises(InputError, match=r"use \.npz or \.npy"):
        load_dataset(tmp_path / "d.csv", SPEC, "calib")


def test_pickled_object_arrays_are_not_loaded(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="cannot read"):
        load_dataset(path, SPEC, "calib")


def test_holdout_split_is_deterministic_and_disjoint(tmp_path):
    x = np.arange(10 * 64, dtype=np.float32).reshape(10, 1, 8, 8)
    data = load_dataset(_npz(tmp_path, image=x, labels=np.arange(10)), SPEC, "calib")
    calib, held = data.split_holdout(0.2)
    assert len(calib) == 8 and len(held) == 2
    assert held.labels.tolist() == [8, 9] and "held back" in held.source
