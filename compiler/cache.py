"""Content-addressed cache of pass outputs (DESIGN.md principle 7).

An entry's key covers everything that can change the output: the input model's fingerprint, the pass name
and options, the calibration data hash (for passes that read it), the versions of the libraries the pass
calls, edgec's own version and the source of the pass's module. Entries are written to a temporary folder
and renamed into place, and are verified by hash on read, so an interrupted compile can never leave an
entry that is later trusted.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from .errors import ConfigError
from .kinds import KIND_NAMES, Model, kind_class
from .passes.base import Pass

_PAYLOAD = "model.bin"
_META = "meta.json"
_STAGING_PREFIX = "."
STALE_STAGING_SECONDS = 3600  # a staging folder this old belongs to a killed process, not a running one


def default_cache_dir() -> Path:
    if env := os.environ.get("EDGEC_CACHE_DIR"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgec"


def library_versions(names: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


@functools.cache
def code_hash(module_name: str) -> str:
    """Hash of the module that defines a pass: editing a pass invalidates its entries even within one version."""
    source = inspect.getsourcefile(sys.modules[module_name])
    return hashlib.sha256(Path(source).read_bytes()).hexdigest() if source else "unknown"


def cache_key(pass_: Pass, model: Model, calibration_hash: str | None, training_hash: str | None = None) -> str:
    material = {
        "edgec": __version__,
        "code": code_hash(type(pass_).__module__),
        "pass": pass_.name,
        "config": pass_.config(),
        "input": model.fingerprint,
        "calibration": calibration_hash if pass_.uses_calibration else None,
        "training": training_hash if pass_.uses_training else None,
        "libraries": library_versions(pass_.libraries),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


class PassCache:
    """A folder of verified pass outputs keyed by `cache_key`."""

    def __init__(self, root: Path):
        self.root = Path(root) / "passes"
        try:  # now, before any work: an unusable folder must not surface as a crash in the middle of a compile
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"pass cache {root}: cannot write there ({exc.strerror or exc}); give a writable folder with "
                "--cache-dir (or EDGEC_CACHE_DIR), or pass --no-cache"
            ) from None

    def scratch(self) -> Path:
        """A folder beside the pass entries for passes' own reusable intermediates (see Context.scratch)."""
        folder = self.root.parent / "scratch"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def load(self, key: str) -> tuple[Model, dict[str, Any]] | None:
        entry = self._entry(key)
        try:
            meta = json.loads((entry / _META).read_text())
            payload = (entry / _PAYLOAD).read_bytes()
        except (OSError, ValueError):
            return None
        if hashlib.sha256(payload).hexdigest() != meta.get("sha256") or meta.get("kind") not in KIND_NAMES:
            shutil.rmtree(entry, ignore_errors=True)  # torn or tampered: never trust it, recompute
            return None
        model = kind_class(meta["kind"]).from_bytes(payload)  # type: ignore[attr-defined]
        return model, meta.get("details", {})

    def store(self, key: str, model: Model, details: dict[str, Any]) -> bool:
        payload = model.to_bytes()
        if payload is None:
            return False
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(entry.parent)
        staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{key[:8]}-", dir=entry.parent))
        meta = {"kind": model.kind, "sha256": hashlib.sha256(payload).hexdigest(), "details": details}
        (staging / _PAYLOAD).write_bytes(payload)
        (staging / _META).write_text(json.dumps(meta, default=str))
        try:
            os.rename(staging, entry)
        except OSError:  # another process stored the same content first; theirs is as good as ours
            shutil.rmtree(staging, ignore_errors=True)
        return True


def _remove_stale_staging(shard: Path) -> None:
    """A compile killed while storing leaves its staging folder behind; `load` never looks at one (entries
    are only ever reached by their final name), so they are only litter, swept here once surely abandoned."""
    cutoff = time.time() - STALE_STAGING_SECONDS
    for staging in shard.glob(f"{_STAGING_PREFIX}*"):
        try:
            if staging.stat().st_mtime < cutoff:
                shutil.rmtree(staging, ignore_errors=True)
        except OSError:  # another process swept it first
            continue
