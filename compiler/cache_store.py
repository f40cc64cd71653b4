"""Where the pass cache keeps its entries: a local folder, or any fsspec URL (a network path, an object store),
so workers on several machines and later runs share each other's passes.

Both publish an entry only when it is whole, and `PassCache` verifies every entry by its sha256 when read, so
neither a killed writer nor two writers racing on one key can leave an entry that is trusted:
- a folder entry is written into a staging folder and renamed into place (rename is atomic; the loser of a race
  finds the name taken and drops its copy, which is identical: keys are content addresses);
- an fsspec entry is one object (a length-prefixed JSON header, then the payload), written under a temporary
  name and moved to its key; on an object store a put is atomic by itself.

Scratch entries (passes' reusable intermediates: calibration ranges, conv means, calibrated TFLite models) live
in a local folder, named by a key that covers what they are computed from and the code hash of the module
computing them (code_hash.py); each file starts with its payload's sha256, checked when read (`read_scratch`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

from .code_hash import code_hash
from .errors import FILESYSTEM_ERRNOS, ConfigError, InputError, cannot_write, require

STALE_STAGING_SECONDS = 3600  # a staging folder this old belongs to a killed process, not a running one
_STAGING_PREFIX = "."
_PAYLOAD = "model.bin"
_META = "meta.json"


class Store(Protocol):
    def read(self, key: str) -> tuple[dict[str, Any], bytes] | None: ...

    def write(self, key: str, meta: dict[str, Any], payload: bytes) -> None: ...

    def discard(self, key: str) -> None: ...

    def scratch(self) -> Path: ...


def is_url(location: str | Path) -> bool:
    """A cache location with a scheme (s3://, local://, file://): not a path to resolve or make relative."""
    return "://" in str(location)


def default_local_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgec"


def scratch_path(folder: Path | None, name: str, material: str, module: str) -> Path | None:
    """Where a scratch intermediate called `name` is kept in `folder` (None: nowhere), keyed by `material`
    (what it is computed from) and the code hash of `module`, the module that computes it."""
    if folder is None:
        return None
    key = hashlib.sha256(f"{material}:{code_hash(module)}".encode()).hexdigest()
    return folder / f"{name}-{key}.entry"


def read_scratch(path: Path | None) -> bytes | None:
    """A scratch entry's payload, or None when absent, torn or tampered (then it is removed: never trusted)."""
    if path is None:
        return None
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    digest, newline, payload = blob.partition(b"\n")
    if not newline or hashlib.sha256(payload).hexdigest().encode() != digest:
        path.unlink(missing_ok=True)
        return None
    return payload


def write_scratch(path: Path | None, payload: bytes) -> None:
    """Publish a scratch entry whole (a temporary file renamed into place) with its sha256 first."""
    if path is None:
        return
    fresh = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fresh.write_bytes(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
        os.replace(fresh, path)
    except OSError as exc:  # a full disk: no torn temporary left behind, and one line naming the cache
        fresh.unlink(missing_ok=True)
        if exc.errno not in FILESYSTEM_ERRNOS:
            raise
        raise _unusable(str(path.parent), exc) from None


def open_store(location: str | Path) -> Store:
    """A folder for a path or file:// URL's plain path; fsspec for any other URL (and the protocol's own
    package, e.g. s3fs)."""
    text = str(location)
    if is_url(text) and not text.startswith("file://"):
        return FsspecStore(text)
    return FolderStore(Path(text.removeprefix("file://")))


def _unusable(location: str, exc: BaseException) -> InputError:
    """A ConfigError (exit 2) naming the cache location; the caller raises it."""
    advice = "give a writable folder or URL with --cache-dir (or EDGEC_CACHE_DIR), or pass --no-cache"
    if isinstance(exc, OSError):
        return cannot_write(f"pass cache {location}", exc, advice, ConfigError)
    return ConfigError(f"pass cache {location}: cannot write there ({exc}); {advice}")


class FolderStore:
    def __init__(self, root: Path):
        self.root = root / "passes"
        try:  # now, before any work: an unusable folder must not surface as a crash in the middle of a compile
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unusable(str(root), exc) from None

    def scratch(self) -> Path:
        folder = self.root.parent / "scratch"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def read(self, key: str) -> tuple[dict[str, Any], bytes] | None:
        entry = self._entry(key)
        try:
            return json.loads((entry / _META).read_text()), (entry / _PAYLOAD).read_bytes()
        except (OSError, ValueError):
            return None

    def write(self, key: str, meta: dict[str, Any], payload: bytes) -> None:
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(entry.parent)
        staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{key[:8]}-", dir=entry.parent))
        try:
            (staging / _PAYLOAD).write_bytes(payload)
            (staging / _META).write_text(json.dumps(meta, default=str))
        except OSError as exc:  # a full disk: the half-written staging entry goes, and one line names the cache
            shutil.rmtree(staging, ignore_errors=True)
            if exc.errno not in FILESYSTEM_ERRNOS:
                raise
            raise _unusable(str(self.root.parent), exc) from None
        try:
            os.rename(staging, entry)
        except OSError:  # another process stored the same content first; theirs is as good as ours
            shutil.rmtree(staging, ignore_errors=True)

    def discard(self, key: str) -> None:
        shutil.rmtree(self._entry(key), ignore_errors=True)


def _remove_stale_staging(shard: Path) -> None:
    """A compile killed while storing leaves its staging folder behind; `read` never looks at one (entries
    are only ever reached by their final name), so they are only litter, swept here once surely abandoned."""
    cutoff = time.time() - STALE_STAGING_SECONDS
    for staging in shard.glob(f"{_STAGING_PREFIX}*"):
        try:
            if staging.stat().st_mtime < cutoff:
                shutil.rmtree(staging, ignore_errors=True)
        except OSError:  # another process swept it first
            continue


class FsspecStore:
    def __init__(self, url: str):
        fsspec = require("fsspec", extra="compiler")
        try:
            self.fs, root = fsspec.core.url_to_fs(url)
            self.root = f"{root.rstrip('/')}/passes"
            self.fs.makedirs(self.root, exist_ok=True)
        except Exception as exc:  # unknown protocol, missing backend package, no permission
            raise _unusable(url, exc) from None

    def scratch(self) -> Path:
        """Passes' intermediates stay on this machine: they are cheap to redo and written often."""
        folder = default_local_dir() / "scratch"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _entry(self, key: str) -> str:
        return f"{self.root}/{key[:2]}/{key}.entry"

    def read(self, key: str) -> tuple[dict[str, Any], bytes] | None:
        try:
            blob = self.fs.cat_file(self._entry(key))
            size = int.from_bytes(blob[:8], "little")
            return json.loads(blob[8 : 8 + size]), blob[8 + size :]
        except (OSError, ValueError):
            return None

    def write(self, key: str, meta: dict[str, Any], payload: bytes) -> None:
        header = json.dumps(meta, default=str).encode()
        blob = len(header).to_bytes(8, "little") + header + payload
        final = self._entry(key)
        staging = f"{self.root}/{key[:2]}/.{key[:8]}-{uuid.uuid4().hex}"
        self.fs.makedirs(f"{self.root}/{key[:2]}", exist_ok=True)
        try:
            self.fs.pipe_file(staging, blob)
        except OSError as exc:  # full or refused: no partial object left, one line naming the cache
            with contextlib.suppress(OSError):
                self.fs.rm_file(staging)
            raise _unusable(self.root.rpartition("/")[0], exc) from None
        try:
            self.fs.mv(staging, final)
        except OSError:
            self.fs.rm_file(staging)

    def discard(self, key: str) -> None:
        with contextlib.suppress(OSError):
            self.fs.rm_file(self._entry(key))
