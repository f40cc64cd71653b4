"""The bundle: what a device needs to run and judge a build, in one file it can also execute.

A bundle is a zip archive. `bundle.json` indexes it: the build it came from, the target, each artifact with
its sha256 and IO layout, the runtimes (and versions) the host validated with, and the evaluation subset in
`data/eval.npz` (inputs in the baseline's layout, labels, the float model's outputs and each artifact's host
outputs, so the device can split quantization error from runtime error). The harness's own code rides along
(`__main__.py`, `edgec/runtimes/`), so `python model.bundle` runs it on a device with only numpy and a
runtime installed; `python -m edgec.runtimes.harness model.bundle` is the same code where edgec is installed.

Members are read into memory, never extracted, and each is checked against its recorded sha256: a bundle
cannot write outside where it is read, and a corrupted copy is refused by name.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .layout import IoLayout

FORMAT = 1
INDEX = "bundle.json"
DATA = "data/eval.npz"
MAX_MEMBER_BYTES = 4 << 30  # refuse members a device could not hold anyway, before inflating them


class BundleError(Exception):
    """A bundle that cannot be used, with the one line that says why."""


@dataclass
class BundleArtifact:
    name: str
    file: str
    runtime: str
    precision: str
    sha256: str
    layout: IoLayout | None

    @property
    def int8(self) -> bool:
        return self.precision in ("int8", "uint8", "int16x8")


@dataclass
class EvalSubset:
    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None
    float_outputs: np.ndarray
    host_outputs: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.float_outputs)


class Bundle:
    """An open bundle: its index, and its members read on demand and verified."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
            self.index: dict[str, Any] = json.loads(self._zip.read(INDEX))
        except FileNotFoundError as exc:
            raise BundleError(f"{path}: no such bundle; make one with `edgec bundle BUILD -o {path.name}`") from exc
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise BundleError(f"{path}: not an edgec bundle ({exc}); make one with `edgec bundle BUILD`") from exc
        if self.index.get("format") != FORMAT:
            raise BundleError(
                f"{path}: bundle format {self.index.get('format')!r}, this harness reads {FORMAT}; "
                "re-bundle with the same edgec version as the harness"
            )

    @property
    def artifacts(self) -> list[BundleArtifact]:
        return [
            BundleArtifact(
                entry["name"],
                entry["file"],
                entry["runtime"],
                entry["precision"],
                entry["sha256"],
                IoLayout.from_dict(entry["io_layout"]) if entry.get("io_layout") else None,
            )
            for entry in self.index["artifacts"]
        ]

    def read(self, member: str) -> bytes:
        """A member's bytes, refused if missing, oversized or not what the index recorded."""
        expected = self.index.get("files", {}).get(member)
        if expected is None:
            raise BundleError(f"{self.path}: {member} is not listed in {INDEX}")
        try:
            info = self._zip.getinfo(member)
        except KeyError as exc:
            raise BundleError(f"{self.path}: {member} is listed but missing; re-copy the bundle") from exc
        if info.file_size > MAX_MEMBER_BYTES:
            raise BundleError(f"{self.path}: {member} declares {info.file_size} bytes, over the limit")
        data = self._zip.read(member)
        if hashlib.sha256(data).hexdigest() != expected:
            raise BundleError(f"{self.path}: {member} does not match its sha256; the copy is corrupt, re-copy it")
        return data

    def verify(self) -> None:
        """Check every member before anything runs: a bad copy fails whole, not one artifact at a time."""
        for member in self.index.get("files", {}):
            self.read(member)

    def data(self) -> EvalSubset:
        with np.load(io.BytesIO(self.read(DATA)), allow_pickle=False) as arrays:
            names = self.index["data"]["inputs"]
            return EvalSubset(
                inputs={name: arrays[f"input:{name}"] for name in names},
                labels=arrays["labels"] if "labels" in arrays.files else None,
                float_outputs=arrays["float_outputs"],
                host_outputs={a.name: arrays[f"host:{a.name}"] for a in self.artifacts},
            )

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def artifact_member(file: str) -> str:
    return f"artifacts/{file}"
