"""TensorFlow-side model kinds: a SavedModel on its way to TFLite, and a TFLite flatbuffer.

Both carry an `IoLayout`: how each input and output of the artifact relates to the float baseline's, so
validation (and the device harness) can feed every runtime its own layout, e.g. NHWC where the ONNX
baseline is NCHW. Serialized forms are deterministic (sorted tar entries, zero mtimes, no TF fingerprint file)
so fingerprints only change when content does.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..runtimes.layout import IoLayout
from .kinds import Model

if TYPE_CHECKING:
    from .tflite_inspect import TfliteSummary


# TF's record of one save: content hashes plus a random uuid, so two saves of the same model differ. Nothing
# downstream reads it (TF loads a SavedModel without it); kept, it would give every conversion a new fingerprint
# and the passes after it (tflite) a new cache key.
_TF_FINGERPRINT = "fingerprint.pb"


def channels_last(rank: int) -> tuple[int, ...]:
    """NCHW -> NHWC style permutation for any rank >= 3 (batch first, channels moved last)."""
    return (0, *range(2, rank), 1) if rank >= 3 else tuple(range(rank))


def inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    result = [0] * len(perm)
    for position, axis in enumerate(perm):
        result[axis] = position
    return tuple(result)


class _LayoutPacked(Model):
    """Shared by the TF kinds: the cache form is a small JSON header (the layout) followed by the payload."""

    layout: IoLayout

    def _payload(self) -> bytes:  # pragma: no cover - each kind overrides
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        return _pack({"layout": self.layout.to_dict()}, self._payload())

    @classmethod
    def from_bytes(cls, data: bytes) -> _LayoutPacked:
        meta, payload = _unpack(data)
        return cls(payload, IoLayout.from_dict(meta["layout"]))  # type: ignore[call-arg]

    @cached_property
    def fingerprint(self) -> str:  # type: ignore[override]
        return hashlib.sha256(self.to_bytes()).hexdigest()


@dataclass(eq=False)
class TfModel(_LayoutPacked):
    """A TensorFlow SavedModel (as a deterministic tar of its folder) with its layout relative to the baseline."""

    kind: ClassVar[str] = "tf"
    saved_model: bytes
    layout: IoLayout = field(default_factory=IoLayout)

    def _payload(self) -> bytes:
        return self.saved_model

    @classmethod
    def from_folder(cls, folder: Path, layout: IoLayout) -> TfModel:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for path in sorted(p for p in folder.rglob("*") if p.is_file() and p != folder / _TF_FINGERPRINT):
                info = tarfile.TarInfo(str(path.relative_to(folder)))
                info.size, info.mtime, info.mode = path.stat().st_size, 0, 0o644
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
        return cls(buffer.getvalue(), layout)

    def extract(self, folder: Path) -> Path:
        with tarfile.open(fileobj=io.BytesIO(self.saved_model)) as archive:
            archive.extractall(folder, filter="data")
        return folder


@dataclass(eq=False)
class TfliteModel(_LayoutPacked):
    """A TFLite flatbuffer: the artifact itself, plus its layout relative to the baseline."""

    kind: ClassVar[str] = "tflite"
    flatbuffer: bytes
    layout: IoLayout = field(default_factory=IoLayout)

    def _payload(self) -> bytes:
        return self.flatbuffer

    def artifact_bytes(self) -> bytes:
        return self.flatbuffer

    @cached_property
    def summary(self) -> TfliteSummary:
        """The flatbuffer read back once: verification, constraints and reports all use this one reading."""
        from .tflite_inspect import inspect_tflite

        return inspect_tflite(self.flatbuffer)

    def op_counts(self) -> dict[str, int]:
        return self.summary.op_counts


def _pack(meta: dict[str, Any], payload: bytes) -> bytes:
    header = json.dumps(meta, sort_keys=True).encode()
    return len(header).to_bytes(4, "little") + header + payload


def _unpack(data: bytes) -> tuple[dict[str, Any], bytes]:
    size = int.from_bytes(data[:4], "little")
    return json.loads(data[4 : 4 + size]), data[4 + size :]
