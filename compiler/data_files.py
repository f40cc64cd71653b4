"""Arrays in .npy and .npz files, read a slice of rows at a time.

A calibration or evaluation set can be larger than the memory of the machine compiling it, so a data file
is never loaded whole: its header is parsed, the size it declares is checked against the bytes the file
really holds (before anything is allocated: a 100-byte file cannot make edgec reserve terabytes), and rows
are read with `os.pread` when a consumer slices them. Members of a compressed .npz are inflated once into an
anonymous temporary file, so they too are read by offset and never sit in memory whole.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local file header (APPNOTE 4.3.7)
_MAX_HEADER = 1 << 16  # numpy writes headers of a few hundred bytes; a longer one is not a data file
MAX_MEMBERS = 4096


class DataFileError(ValueError):
    """A data file that cannot be read as arrays; the message says why, the caller says which flag."""


@dataclass(frozen=True)
class StoredArray:
    """An array whose rows stay on disk until sliced: `len`, `shape`, `dtype`, `ndim` and `[start:stop]` are
    what the compiler's batch loops use, and each slice costs only the rows it asks for."""

    file: IO[bytes]
    offset: int  # where row 0 starts
    stored_dtype: np.dtype
    shape: tuple[int, ...]
    dtype: np.dtype  # what slices are converted to (the model's input dtype)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.stored_dtype.itemsize

    def astype(self, dtype: Any, copy: bool = False) -> StoredArray:
        """Conversion happens per slice, so a float64 file costs no float32 copy of the whole set."""
        return replace(self, dtype=np.dtype(dtype))

    def rows(self, start: int, stop: int) -> StoredArray:
        """Rows start..stop as another StoredArray: a subset (a hold-out split) without reading anything."""
        start, stop, _ = slice(start, stop).indices(len(self))
        stop = max(start, stop)
        return replace(self, offset=self.offset + start * self.row_bytes, shape=(stop - start, *self.shape[1:]))

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, slice) and index.step in (None, 1):
            start, stop, _ = index.indices(len(self))
            return self._read(start, max(start, stop))
        if isinstance(index, (int, np.integer)):
            position = range(len(self))[index]
            return self._read(position, position + 1)[0]
        positions = np.arange(len(self))[index]  # fancy or stepped indexing: gather the rows one by one
        rows = [self._read(int(p), int(p) + 1) for p in np.atleast_1d(positions)]
        return np.concatenate(rows) if rows else np.empty((0, *self.shape[1:]), self.dtype)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The whole array, for the few consumers that need it at once (fine-tuning's training set)."""
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def _read(self, start: int, stop: int) -> np.ndarray:
        count = (stop - start) * self.row_bytes
        raw = os.pread(self.file.fileno(), count, self.offset + start * self.row_bytes) if count else b""
        if len(raw) != count:
            raise DataFileError(f"rows {start}:{stop} are cut short ({len(raw)} of {count} bytes); the file changed")
        rows = np.frombuffer(raw, self.stored_dtype).reshape(stop - start, *self.shape[1:])
        return rows.astype(self.dtype)  # always a writable copy in native byte order


def open_arrays(path: Path) -> dict[str, StoredArray | np.ndarray]:
    """Every array in a .npy (keyed "") or else .npz file, unread. Raises DataFileError with the reason."""
    if path.suffix == ".npy":
        handle = path.open("rb")
        return {"": _stored(handle, 0, os.fstat(handle.fileno()).st_size, "")}
    handle = path.open("rb")
    try:
        archive = zipfile.ZipFile(handle)
    except Exception as exc:  # untrusted bytes: whatever zipfile trips on, the file is not a usable archive
        raise DataFileError(f"not a zip archive ({type(exc).__name__}: {exc})") from None
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise DataFileError(f"{len(members)} members; an .npz of model inputs has a handful")
    arrays: dict[str, StoredArray | np.ndarray] = {}
    for info in members:
        name = info.filename.removesuffix(".npy")
        if info.compress_type == zipfile.ZIP_STORED:
            arrays[name] = _stored(handle, _member_start(handle, info), info.file_size, name)
        else:
            arrays[name] = _stored(_inflated(archive, info), 0, info.file_size, name)
    return arrays


def _member_start(handle: IO[bytes], info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes begin: after its local header, whose extra field can differ from the
    central directory's, so it is read rather than assumed."""
    header = os.pread(handle.fileno(), _LOCAL_HEADER.size, info.header_offset)
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise DataFileError(f"member {info.filename!r} has a damaged header")
    fields = _LOCAL_HEADER.unpack(header)
    start = info.header_offset + _LOCAL_HEADER.size + fields[10] + fields[11]
    if start + info.file_size > os.fstat(handle.fileno()).st_size:
        raise DataFileError(f"member {info.filename!r} runs past the end of the file; the archive is truncated")
    return start


def _inflated(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    """A compressed member, inflated in chunks into an anonymous file that vanishes when closed."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115  (open as long as the arrays that read it)
    try:
        with archive.open(info) as member:
            shutil.copyfileobj(member, spool, 1 << 20)
        spool.flush()  # rows are read with pread on the descriptor, past Python's buffer
    except Exception as exc:  # CRC mismatch, truncated stream, encryption, an unknown compression method
        spool.close()
        raise DataFileError(f"member {info.filename!r} cannot be inflated ({exc})") from None
    return spool


def _stored(handle: IO[bytes], start: int, size: int, name: str) -> StoredArray | np.ndarray:
    """Parse one .npy header at `start` and check the size it declares fits in the `size` bytes there."""
    where = f"array {name!r}" if name else "the array"
    reader = _BytesReader(os.pread(handle.fileno(), min(size, _MAX_HEADER + 16), start))
    headers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        version = np.lib.format.read_magic(reader)
        if version not in headers:
            raise ValueError(f".npy format {version[0]}.{version[1]} is not read; save with numpy.save")
        shape, fortran, dtype = headers[version](reader, max_header_size=_MAX_HEADER)
    except Exception as exc:  # numpy parses the header as a Python literal: any tokenizer error can come out
        raise DataFileError(f"{where} is not a .npy array ({' '.join(str(exc).split())[:160]})") from None
    if dtype.hasobject:
        raise DataFileError(f"{where} holds Python objects, which would need unpickling; save numeric arrays")
    if any(d < 0 for d in shape):
        raise DataFileError(f"{where} declares a negative dimension {shape}")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    available = size - reader.position
    if declared > available:
        raise DataFileError(f"{where} declares shape {shape} ({declared} bytes) but holds {available} bytes")
    offset = start + reader.position
    if len(shape) == 0 or (fortran and len(shape) > 1):  # rows are not contiguous: read whole (size checked)
        flat = np.frombuffer(os.pread(handle.fileno(), declared, offset), dtype)
        return flat.reshape(shape, order="F" if fortran else "C").astype(dtype.newbyteorder("="))
    return StoredArray(handle, offset, dtype, tuple(shape), dtype.newbyteorder("="))


class _BytesReader:
    """The file-like `read` numpy's header parser wants, over bytes already read, counting what it used."""

    def __init__(self, data: bytes):
        self.data, self.position = data, 0

    def read(self, count: int = -1, /) -> bytes:
        count = len(self.data) if count < 0 else count
        chunk = self.data[self.position : self.position + count]
        self.position += len(chunk)
        return chunk
