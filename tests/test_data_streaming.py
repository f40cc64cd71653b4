"""Data files stay on disk: rows are read when sliced, declared sizes are checked before anything is
allocated, and every way numpy writes an array (.npy, stored or compressed .npz, big-endian, Fortran order)
reads back the same values and the same content hash as the array in memory."""

from __future__ import annotations

import io
import resource

import numpy as np
import pytest

from edgec.compiler.data import Dataset, load_dataset
from edgec.compiler.data_files import StoredArray, open_arrays
from edgec.compiler.errors import InputError
from edgec.compiler.kinds import TensorSpec

SPEC = [TensorSpec("image", (1, 8, 8), "float32", "batch")]


def _values(n: int = 37) -> np.ndarray:
    return np.random.default_rng(3).normal(size=(n, 1, 8, 8)).astype(np.float32)


@pytest.mark.parametrize("writer", ["npy", "savez", "savez_compressed"])
def test_every_format_streams_the_same_rows_and_hash(tmp_path, writer):
    values, labels = _values(), np.arange(37) % 10
    if writer == "npy":
        path = tmp_path / "d.npy"
        np.save(path, values)
    else:
        path = tmp_path / "d.npz"
        getattr(np, writer)(path, image=values, labels=labels)
    data = load_dataset(path, SPEC, "calib")
    stored = data.inputs["image"]
    assert isinstance(stored, StoredArray)  # not loaded
    np.testing.assert_array_equal(stored[5:9], values[5:9])
    np.testing.assert_array_equal(stored[-1], values[-1])
    np.testing.assert_array_equal(stored[[0, 36, 2]], values[[0, 36, 2]])
    in_memory = Dataset({"image": values}, labels if writer != "npy" else None, "memory")
    assert data.sha256 == in_memory.sha256  # cache keys do not depend on how the data was stored
    calib, held = data.split_holdout(0.25)
    assert isinstance(calib.inputs["image"], StoredArray) and len(calib) + len(held) == 37
    np.testing.assert_array_equal(held.inputs["image"][:], values[len(calib) :])


def test_dtype_conversion_byte_order_and_fortran_order(tmp_path):
    values = _values(5)
    np.save(tmp_path / "be.npy", values.astype(">f8"))
    converted = load_dataset(tmp_path / "be.npy", SPEC, "calib").inputs["image"]
    assert converted[0:2].dtype == np.float32
    np.testing.assert_array_equal(converted[:], values)
    flat = np.asfortranarray(values.reshape(5, 64))
    np.save(tmp_path / "f.npy", flat)
    (array,) = open_arrays(tmp_path / "f.npy").values()
    np.testing.assert_array_equal(np.asarray(array), flat)


def _npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return b"\x93NUMPY\x01\x00" + buffer.getvalue()[8:]


def test_absurd_declared_shape_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(_npy_header((10**12, 1, 8, 8)) + b"\0" * 64)  # claims 256 TB, holds 64 bytes
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError, match=r"huge\.npy: cannot read as \.npy .*declares shape .* but holds 64 bytes"):
        load_dataset(path, SPEC, "calib")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB: nothing was allocated
    np.savez(tmp_path / "cut.npz", image=_values())
    raw = (tmp_path / "cut.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])  # a copy cut short: the zip directory is gone
    with pytest.raises(InputError, match=r"cut\.npz: cannot read as \.npz"):
        load_dataset(tmp_path / "cut.npz", SPEC, "calib")


def test_object_arrays_and_negative_shapes_are_refused(tmp_path):
    path = tmp_path / "neg.npy"
    path.write_bytes(_npy_header((-5, 1, 8, 8)))
    with pytest.raises(InputError, match="negative dimension"):
        load_dataset(path, SPEC, "calib")
    path = tmp_path / "obj.npy"
    path.write_bytes(_npy_header((1,), "|O") + b"\0" * 8)
    with pytest.raises(InputError, match="Python objects"):
        load_dataset(path, SPEC, "calib")


def test_nan_check_scans_every_chunk(tmp_path, monkeypatch):
    import edgec.compiler.data as data_module

    monkeypatch.setattr(data_module, "CHUNK_BYTES", 256)  # one sample per chunk: the bad value is in chunk 30
    values = _values()
    values[30, 0, 4, 4] = np.nan
    np.save(tmp_path / "nan.npy", values)
    with pytest.raises(InputError, match=r"contains 1 NaN/Inf"):
        load_dataset(tmp_path / "nan.npy", SPEC, "calib")


def test_malformed_header_is_an_input_error(tmp_path):
    """Found by bench/fuzz_loaders.py: numpy's header parser let a tokenizer error escape."""
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (3,\n"
    path = tmp_path / "torn.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
    with pytest.raises(InputError, match=r"torn\.npy: cannot read as \.npy \(the array is not a \.npy array"):
        load_dataset(path, SPEC, "calib")
