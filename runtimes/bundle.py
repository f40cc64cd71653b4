"""The bundle: what a device needs to run and judge a build, in one file it can also execute.

A bundle is a zip archive. `bundle.json` indexes it: the build it came from, the target, each artifact with
its sha256 and IO layout, the runtimes (and versions) the host validated with, and the evaluation subset in
`data/eval.npz` (inputs in the baseline's layout, labels, the float model's outputs and each artifact's host
outputs, so the device can split quantization error from runtime error). The harness's own code rides along
(`__main__.py`, `edgec/runtimes/`), so `python model.bundle` runs it on a device with only numpy and a
runtime installed; `python -m edgec.runtimes.harness model.bundle` is the same code where edgec is installed.

Members are read into memory, never extracted, and each is checked against its recorded sha256: a bundle
cannot write outside where it is read, and a corrupted copy is refused by name. A bundle may come from
anywhere, so the zip's directory is judged before any member is inflated: a member name that would escape a
folder if extracted (zip-slip), a member or a total over the size limits, too many members, a compression
ratio only a zip bomb reaches, or a compression method edgec does not write refuses the bundle as a whole. So
does a member bundle.json does not list, or a name that appears twice: run as `python x.bundle`, the archive is
on sys.path, and an extra `numpy.py` would be imported as numpy (bundle_main.py, the archive's __main__.py,
refuses it too before importing anything from the archive).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .bundle_main import INDEX, unlisted
from .layout import IoLayout
from .output_kinds import KIND_NAMES, OutputKind

FORMAT = 1
DATA = "data/eval.npz"
MAX_MEMBER_BYTES = 2 << 30  # ONNX (protobuf) and TFLite (flatbuffers) files cannot exceed 2 GiB anyway
MAX_TOTAL_BYTES = 4 << 30  # all members together, as their headers declare them
MAX_INDEX_BYTES = 16 << 20  # bundle.json is a few KiB
MAX_MEMBERS = 1000  # a bundle holds its artifacts, the data and about 15 harness sources
MAX_RATIO = 100  # deflate reaches ~1000:1 on degenerate data only: the signature of a zip bomb
RATIO_FLOOR = 1 << 20  # below this size a member's ratio says nothing
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what edgec writes; bzip2 and lzma inflate without bound
UNSAFE_NAME = re.compile(r"^/|^[A-Za-z]:|\\|\x00|(^|/)\.\.(/|$)")  # absolute, drive, backslash, NUL, `..`
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError)
ARTIFACT_FIELDS = ("name", "file", "runtime", "precision", "sha256")
INDEX_FIELDS = {  # what the harness and `edgec run` read from bundle.json, with the type each must have
    "files": dict,
    "artifacts": list,
    "requirements": list,
    "data.inputs": list,
    "target.id": str,
    "target.threads": int,
    "build.model": str,
    "build.report_sha256": str,
}


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
    kind: OutputKind | None = None  # as the build judged the output (bundles before it: inferred on the device)
    states: tuple[tuple[int, str], ...] = ()  # a streamed build's (output index, state input): run step by step

    def __len__(self) -> int:
        return len(self.float_outputs)


class Bundle:
    """An open bundle: its index, and its members read on demand and verified."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except FileNotFoundError as exc:
            raise BundleError(f"{path}: no such bundle; make one with `edgec bundle BUILD -o {path.name}`") from exc
        except ZIP_ERRORS as exc:
            raise BundleError(f"{path}: not an edgec bundle ({exc}); make one with `edgec bundle BUILD`") from exc
        check_archive(self._zip, str(path))
        if INDEX not in self._zip.namelist() or self._zip.getinfo(INDEX).file_size > MAX_INDEX_BYTES:
            raise BundleError(f"{path}: no {INDEX} of a sane size; not an edgec bundle, make one with `edgec bundle`")
        try:
            self.index: dict[str, Any] = json.loads(self._inflate(INDEX))
        except (ValueError, RecursionError) as exc:
            raise BundleError(f"{path}: {INDEX} is not valid JSON ({exc}); re-bundle with `edgec bundle`") from None
        version = self.index.get("format") if isinstance(self.index, dict) else None
        if version != FORMAT:
            raise BundleError(
                f"{path}: bundle format {version!r}, this harness reads {FORMAT}; "
                "re-bundle with the same edgec version as the harness"
            )
        self.artifacts = _artifacts(self.index, f"{path}: {INDEX}")
        problem = unlisted(self._zip.namelist(), self.index["files"])
        if problem is not None:  # `python x.bundle` would import an unlisted `numpy.py` at its root as numpy
            raise BundleError(f"{path}: {problem}; refusing the whole bundle, re-bundle with `edgec bundle`")

    def read(self, member: str) -> bytes:
        """A member's bytes, refused if missing, damaged or not what the index recorded."""
        expected = self.index["files"].get(member)
        if expected is None:
            raise BundleError(f"{self.path}: {member} is not listed in {INDEX}")
        if member not in self._zip.namelist():
            raise BundleError(f"{self.path}: {member} is listed but missing; re-copy the bundle")
        data = self._inflate(member)
        if hashlib.sha256(data).hexdigest() != expected:
            raise BundleError(f"{self.path}: {member} does not match its sha256; the copy is corrupt, re-copy it")
        return data

    def _inflate(self, member: str) -> bytes:
        """At most the declared size: a member whose data runs longer fails its CRC instead of filling memory."""
        info = self._zip.getinfo(member)
        try:
            with self._zip.open(info) as stream:
                return stream.read(info.file_size)
        except ZIP_ERRORS as exc:
            raise BundleError(f"{self.path}: {member} is damaged ({exc}); re-copy the bundle") from None

    def verify(self) -> None:
        """Check every member before anything runs: a bad copy fails whole, not one artifact at a time."""
        for member in self.index["files"]:
            self.read(member)

    def data(self) -> EvalSubset:
        """The evaluation subset; its npz (a zip too) is held to the bundle's limits before numpy reads it."""
        raw, where = self.read(DATA), f"{self.path}: {DATA}"
        inputs = {name: f"input:{name}" for name in self.index["data"]["inputs"]}
        hosts = {a.name: f"host:{a.name}" for a in self.artifacts}
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                check_archive(archive, where)
            with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
                wanted = [*inputs.values(), *hosts.values(), "float_outputs"]
                missing = [key for key in wanted if key not in npz.files]
                if missing:
                    raise BundleError(f"{where}: no array(s) {', '.join(missing)}; re-bundle with `edgec bundle`")
                arrays = {key: npz[key] for key in [*wanted, "labels"] if key in npz.files}
        except (*ZIP_ERRORS, MemoryError) as exc:  # MemoryError: an array header claiming an absurd shape
            raise BundleError(f"{where}: not readable ({type(exc).__name__}: {exc}); re-bundle it") from None
        if not all(isinstance(array, np.ndarray) for array in arrays.values()):
            raise BundleError(f"{where}: holds a member that is not a .npy array; re-bundle with `edgec bundle`")
        return EvalSubset(
            inputs={name: arrays[key] for name, key in inputs.items()},
            labels=arrays.get("labels"),
            float_outputs=arrays["float_outputs"],
            host_outputs={name: arrays[key] for name, key in hosts.items()},
            kind=_output_kind(self.index["data"].get("output_kind"), where),
            states=_states(self.index["data"].get("states"), set(inputs), where),
        )

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def check_archive(archive: zipfile.ZipFile, where: str) -> None:
    """Refuse, from the zip's directory alone, what no bundle edgec writes holds (see the module docstring)."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise BundleError(f"{where}: {len(infos)} members, over the limit of {MAX_MEMBERS}; not an edgec bundle")
    for info in infos:
        name = info.orig_filename  # zipfile cuts a name at its first NUL; the original shows it
        if UNSAFE_NAME.search(name):
            raise BundleError(
                f"{where}: member {name!r} is an absolute, drive-letter, '..', backslash or NUL path (zip-slip); "
                "refusing the whole bundle, re-bundle with `edgec bundle`"
            )
        if info.compress_type not in METHODS:
            raise BundleError(
                f"{where}: member {name!r} uses compression method {info.compress_type}; "
                "edgec writes stored or deflate only, re-bundle with `edgec bundle`"
            )
        if info.file_size > MAX_MEMBER_BYTES:
            raise BundleError(
                f"{where}: member {name!r} declares {info.file_size} bytes, over the limit of "
                f"{MAX_MEMBER_BYTES}; refusing the bundle before inflating anything"
            )
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
            raise BundleError(
                f"{where}: member {name!r} inflates {info.compress_size} bytes to {info.file_size} "
                f"(over {MAX_RATIO}:1, a zip bomb); refusing the bundle before inflating anything"
            )
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        raise BundleError(
            f"{where}: members declare {total} bytes in all, over the limit of {MAX_TOTAL_BYTES}; "
            "refusing the bundle before inflating anything"
        )


def _artifacts(index: dict[str, Any], where: str) -> list[BundleArtifact]:
    """The index's artifacts, after checking every field the harness reads: a malformed index fails here."""
    for dotted, kind in INDEX_FIELDS.items():
        value: Any = index
        for key in dotted.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if not isinstance(value, kind) or isinstance(value, bool):
            raise BundleError(
                f"{where}: {dotted} is missing or not of type {kind.__name__}; re-bundle with `edgec bundle`"
            )
    lists = {"files": list(index["files"].values()), "data.inputs": index["data"]["inputs"]}
    lists["requirements"] = index["requirements"]
    for dotted, items in lists.items():
        if not all(isinstance(item, str) for item in items):
            raise BundleError(f"{where}: {dotted} holds a non-string; re-bundle with `edgec bundle`")
    artifacts = []
    for i, entry in enumerate(index["artifacts"]):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(key), str) for key in ARTIFACT_FIELDS):
            raise BundleError(f"{where}: artifacts[{i}] lacks one of {', '.join(ARTIFACT_FIELDS)}; re-bundle it")
        try:
            layout = IoLayout.from_dict(entry["io_layout"]) if entry.get("io_layout") else None
        except (AttributeError, TypeError, ValueError) as exc:
            raise BundleError(f"{where}: artifacts[{i}].io_layout is malformed ({exc}); re-bundle it") from None
        artifacts.append(BundleArtifact(**{key: entry[key] for key in ARTIFACT_FIELDS}, layout=layout))
    return artifacts


def artifact_member(file: str) -> str:
    return f"artifacts/{file}"


def _output_kind(recorded: Any, where: str) -> OutputKind | None:
    """bundle.json's output kind, checked: the index is data from another machine, never trusted blindly."""
    if recorded is None:
        return None
    if not isinstance(recorded, dict) or recorded.get("name") not in KIND_NAMES:
        raise BundleError(f"{where}: bundle.json's data.output_kind {recorded!r} is not one edgec writes; re-bundle")
    threshold = recorded.get("threshold", 0.0)
    if not isinstance(threshold, int | float):
        raise BundleError(f"{where}: bundle.json's output_kind threshold {threshold!r} is not a number; re-bundle")
    return OutputKind(recorded["name"], float(threshold))


def _states(recorded: Any, inputs: set[str], where: str) -> tuple[tuple[int, str], ...]:
    """bundle.json's state pairs, checked like the rest of the index: an untrusted file names only its inputs."""
    if not recorded:
        return ()
    try:
        pairs = tuple((int(index), str(name)) for index, name in recorded)
    except (TypeError, ValueError):
        raise BundleError(f"{where}: bundle.json's data.states {recorded!r} is not [[output, input], ...]") from None
    if any(name not in inputs or index < 0 for index, name in pairs):
        raise BundleError(f"{where}: bundle.json's data.states {recorded!r} names an input the bundle lacks")
    return pairs
