"""One build as one archive: `edgec builds export` / `import`.

The archive is a zip of the build folder's manifest.json and every file the manifest lists (artifacts, float
baseline, report.json and its views), plus a small header naming the build. Export refuses a build whose files no
longer match its manifest; import checks every member against the manifest's sha256 and size before the folder
appears. Member names must be plain file names the manifest lists, so an archive cannot write outside its
folder (zip-slip) or smuggle extra files in. Both sides write to a hidden staging name and rename at the end:
a failure leaves nothing half-written, and `reindex` never sees the staging folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..output import MANIFEST
from .registry import get_build, register_build, status

HEADER = "edgec-build.json"
FORMAT = 1
STAMP = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same build exports to the same bytes
CHUNK = 1 << 20


@dataclass(frozen=True)
class Imported:
    path: Path
    id: str  # the id in this registry (the folder's path is part of it)
    exported_id: str  # the id it had where it was exported


def export_build(build: str | Path, archive: Path, registry: Path | None = None) -> Path:
    """Write the registered `build` as one zip at `archive`; returns the path written."""
    record = get_build(build, registry)
    if status(record) != "ok":
        raise InputError(f"build {record.id}: its folder {record.path} is {status(record)}; nothing to export")
    folder = Path(record.path)
    manifest_bytes = (folder / MANIFEST).read_bytes()
    files = json.loads(manifest_bytes)["files"]
    header = {"format": FORMAT, "build_id": record.id, "model": record.model, "target": record.target}
    archive.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{archive.name}.staging-", dir=archive.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as out:
            _write(out, HEADER, json.dumps(header, indent=2, sort_keys=True).encode())
            _write(out, MANIFEST, manifest_bytes)
            for name, expected in files.items():
                data = (folder / name).read_bytes()
                if hashlib.sha256(data).hexdigest() != expected["sha256"]:
                    raise InputError(f"{folder / name}: does not match its manifest sha256; the build was altered")
                _write(out, name, data)
        os.replace(staging, archive)
    finally:
        Path(staging).unlink(missing_ok=True)
    return archive


def import_build(archive: Path, destination: Path, registry: Path | None = None) -> Imported:
    """Unpack `archive` into the new folder `destination`, every file verified, and register it."""
    if destination.exists():
        raise InputError(f"-o {destination}: already exists; import into a new folder")
    try:
        with zipfile.ZipFile(archive) as source:
            header, manifest = _read_index(source, archive)
            destination.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.staging-", dir=destination.parent))
            try:
                for name, expected in manifest["files"].items():
                    _extract(source, name, expected, staging / name, archive)
                (staging / MANIFEST).write_bytes(source.read(MANIFEST))
                staging.chmod(0o755)
                staging.rename(destination)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except FileNotFoundError:
        raise InputError(f"{archive}: no such file") from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InputError(f"{archive}: not a readable build archive ({exc})") from None
    return Imported(destination.absolute(), register_build(destination, registry=registry), str(header["build_id"]))


def _read_index(source: zipfile.ZipFile, archive: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and manifest, after checking every member name is one the manifest lists."""
    names = source.namelist()
    unsafe = [n for n in names if not _plain(n)]
    if unsafe:
        raise InputError(f"{archive}: member {unsafe[0]!r} is not a plain file name; refusing the archive")
    if len(set(names)) != len(names) or HEADER not in names or MANIFEST not in names:
        raise InputError(f"{archive}: not an edgec build archive (no {HEADER} and {MANIFEST}, or duplicate members)")
    try:
        header, manifest = json.loads(source.read(HEADER)), json.loads(source.read(MANIFEST))
        files = manifest["files"]
        listed = {name: (str(entry["sha256"]), int(entry["bytes"])) for name, entry in files.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{archive}: its header or manifest is not readable ({exc})") from None
    if header.get("format") != FORMAT or "build_id" not in header:
        raise InputError(f"{archive}: build archive format {header.get('format')!r}, this edgec reads {FORMAT}")
    bad = [n for n in listed if not _plain(n) or n in (HEADER, MANIFEST)]
    extra, absent = set(names) - set(listed) - {HEADER, MANIFEST}, set(listed) - set(names)
    if bad or extra or absent:
        what = bad or sorted(extra) or sorted(absent)
        raise InputError(f"{archive}: members and manifest disagree ({', '.join(what)}); refusing the archive")
    return header, manifest


def _extract(source: zipfile.ZipFile, name: str, expected: dict[str, Any], out: Path, archive: Path) -> None:
    """Copy one member, hashing as it goes and stopping at the manifest's size (a member cannot grow past it)."""
    digest, size = hashlib.sha256(), 0
    with source.open(name) as member, out.open("wb") as target:
        while chunk := member.read(min(CHUNK, int(expected["bytes"]) + 1 - size)):
            size += len(chunk)
            if size > int(expected["bytes"]):
                break
            digest.update(chunk)
            target.write(chunk)
    if size != int(expected["bytes"]) or digest.hexdigest() != expected["sha256"]:
        raise InputError(f"{archive}: {name} does not match the sha256 and size its manifest records; refusing it")


def _plain(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and ":" not in name


def _write(out: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, STAMP)
    info.external_attr = 0o644 << 16
    out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
