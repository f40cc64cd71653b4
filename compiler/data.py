"""Calibration and evaluation data: loading, strict checking, hashing, splitting.

Bad data is the most common user error, so every check names the file, the array and what to do, and runs
before any compilation work starts. Data never executes code (object arrays are refused), and a data file is
never loaded whole: its arrays stay on disk (data_files.StoredArray) and every consumer, from hashing to
calibration to evaluation, reads them a batch of rows at a time, so memory does not grow with the data.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data_files import DataFileError, StoredArray, open_arrays
from .errors import InputError
from .kinds import TensorSpec

LABELS_KEY = "labels"
CHUNK_BYTES = 8 << 20  # how much of an array a whole-set scan (hash, NaN check) reads at once

Rows = np.ndarray | StoredArray


@dataclass(frozen=True)
class Dataset:
    """Model inputs keyed by input name (each shaped (N, ...)), optional integer labels, and provenance."""

    inputs: dict[str, Rows]
    labels: np.ndarray | None
    source: str
    held_out: bool = False  # True when carved out of the calibration data for lack of --eval
    # a sequence to stream (streaming.py): (output index, input name) per recurrent state, in the baseline's
    # IO order; the state inputs' rows are the float model's own states, their first row the initial state
    states: tuple[tuple[int, str], ...] = ()

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    @functools.cached_property
    def sha256(self) -> str:
        """Content hash, computed once: cache keys, manifests and every search trial ask for it."""
        digest = hashlib.sha256()
        arrays = sorted(self.inputs.items())
        if self.labels is not None:
            arrays.append((LABELS_KEY, self.labels))
        if self.states:  # streamed or not: other numbers from the same rows
            digest.update(repr(self.states).encode())
        for name, array in arrays:
            digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
            for chunk in chunks(array):
                digest.update(np.ascontiguousarray(chunk).tobytes())
        return digest.hexdigest()

    def subset(self, index: slice, source: str, held_out: bool = False) -> Dataset:
        """Rows `index` (a plain slice): stored arrays stay on disk, so a split costs no memory."""
        labels = None if self.labels is None else self.labels[index]
        inputs = {name: _rows(array, index) for name, array in self.inputs.items()}
        return Dataset(inputs, labels, source, held_out, self.states)

    def split_holdout(self, fraction: float) -> tuple[Dataset, Dataset]:
        """Keep the last `fraction` back for evaluation; deterministic so builds are reproducible."""
        n = len(self)
        held = max(1, round(n * fraction))
        if n - held < 1:
            raise InputError(
                f"{self.source}: {n} sample(s) cannot be split into calibration and evaluation; "
                "pass --eval or give more calibration samples"
            )
        cut = n - held
        return (
            self.subset(slice(0, cut), f"{self.source}[:{cut}]"),
            self.subset(slice(cut, n), f"{self.source}[{cut}:] (held back from calibration)", held_out=True),
        )


def load_dataset(path: str | Path, specs: list[TensorSpec], role: str) -> Dataset:
    """Load a .npz (arrays keyed by input name, optional `labels`) or .npy (single-input models)."""
    path = Path(path)
    where = f"--{role} {path}"
    if not path.is_file():
        raise InputError(f"{where}: file not found; give a .npz or .npy file")
    arrays = _read_arrays(path, where)
    labels = arrays.pop(LABELS_KEY, None)
    inputs = _match_inputs(arrays, specs, where)
    dataset = Dataset(
        {s.name: _check_array(inputs[s.name], s, where) for s in specs},
        None if labels is None else _check_labels(labels, where),
        str(path),
    )
    sizes = {name: len(a) for name, a in dataset.inputs.items()}
    if dataset.labels is not None:
        sizes[LABELS_KEY] = len(dataset.labels)
    if len(set(sizes.values())) != 1:
        raise InputError(f"{where}: arrays have different sample counts {sizes}; they must all match")
    return dataset


def check_dataset(dataset: Dataset, specs: list[TensorSpec]) -> Dataset:
    """Apply the same checks to an in-memory dataset (the built-in demo, Python API users)."""
    inputs = {s.name: _check_array(dataset.inputs[s.name], s, dataset.source) for s in specs}
    return dataclasses.replace(dataset, inputs=inputs)


def _rows(array: Rows, index: slice) -> Rows:
    if isinstance(array, StoredArray):
        return array.rows(*index.indices(len(array))[:2])
    return array[index]


def chunks(array: Rows) -> Iterator[np.ndarray]:
    """The rows of `array` in slices of about CHUNK_BYTES: how a whole-set scan stays in bounded memory."""
    row_bytes = max(1, array.dtype.itemsize * int(np.prod(array.shape[1:], dtype=np.int64)))
    step = max(1, CHUNK_BYTES // row_bytes)
    for start in range(0, len(array), step):
        yield array[start : start + step]


def _read_arrays(path: Path, where: str) -> dict[str, Rows]:
    if path.suffix not in (".npz", ".npy"):
        raise InputError(f"{where}: unsupported data format {path.suffix!r}; use .npz or .npy")
    try:
        return open_arrays(path)
    except (DataFileError, OSError) as exc:
        raise InputError(
            f"{where}: cannot read as {path.suffix} ({exc}); save arrays with numpy.savez / numpy.save"
        ) from None


def _match_inputs(arrays: dict[str, Rows], specs: list[TensorSpec], where: str) -> dict[str, Rows]:
    names = [s.name for s in specs]
    if all(name in arrays for name in names):
        return arrays
    if len(specs) == 1 and len(arrays) == 1:  # one input, one array: the key need not match the input name
        return {names[0]: next(iter(arrays.values()))}
    missing = [n for n in names if n not in arrays]
    scalars = [s.name for s in specs if s.name in missing and s.batch is None]  # rank 0: no rows to give
    hint = f"; a scalar input takes its value from --input {scalars[0]}=VALUE" if scalars else ""
    raise InputError(
        f"{where}: no array for model input(s) {missing}; found {sorted(arrays) or 'none'}. "
        f"Key arrays by input name ({', '.join(names)}) and labels by '{LABELS_KEY}'{hint}"
    )


def _check_array(array: Rows, spec: TensorSpec, where: str) -> Rows:
    if array.dtype.kind not in "fiub":
        raise InputError(
            f"{where}: input {spec.name!r} has dtype {array.dtype}; expected numbers (the model takes {spec.dtype})"
        )
    if array.ndim == 0:  # one value where rows of samples were expected: not "empty", it holds a number
        sample = ", ".join(str(d) if isinstance(d, int) and d > 0 else "..." for d in spec.shape)
        value = f", {array.item()!r}" if isinstance(array, np.ndarray) else ""  # a stored one is not read for this
        raise InputError(
            f"{where}: input {spec.name!r} is a 0-d array (one value{value}), not rows of samples; give "
            f"an array of shape (N, {sample}) with one row per sample"
        )
    if len(array) == 0:
        raise InputError(f"{where}: input {spec.name!r} is empty; give at least one sample")
    sample_shape = array.shape[1:]
    fixed = all(isinstance(d, int) and d > 0 for d in spec.shape)
    matches = len(sample_shape) == len(spec.shape) and all(
        not isinstance(d, int) or d <= 0 or d == s for d, s in zip(spec.shape, sample_shape, strict=True)
    )
    if not matches:
        expected = tuple(spec.shape) if fixed else spec.shape
        raise InputError(
            f"{where}: input {spec.name!r} has samples of shape {sample_shape} (array "
            f"{array.shape}); the model expects {expected} per sample, i.e. an array (N, "
            f"{', '.join(map(str, expected))})"
        )
    array = array.astype(spec.dtype, copy=False)
    if array.dtype.kind == "f":
        try:
            bad = sum(int((~np.isfinite(chunk)).sum()) for chunk in chunks(array))
        except (DataFileError, OSError) as exc:
            raise InputError(f"{where}: input {spec.name!r} cannot be read ({exc})") from None
        if bad:
            raise InputError(f"{where}: input {spec.name!r} contains {bad} NaN/Inf value(s); clean the data first")
    return array


def _check_labels(stored: Rows, where: str) -> np.ndarray:
    try:
        labels = np.asarray(stored)  # one integer per sample: small enough to hold
    except (DataFileError, OSError) as exc:
        raise InputError(f"{where}: '{LABELS_KEY}' cannot be read ({exc})") from None
    if labels.ndim not in (1, 2) or labels.dtype.kind not in "iu":  # 2-D: per position, or CTC lines
        raise InputError(
            f"{where}: '{LABELS_KEY}' must be integer class indices, one per sample (or a row per sample for a "
            f"sequence), got {labels.dtype} {labels.shape}"
        )
    return labels.astype(np.int64)
