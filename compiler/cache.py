"""Content-addressed cache of pass outputs (docs/design.md principle 7).

An entry's key covers everything that can change the output: the input model's fingerprint, the pass name
and options, the calibration data hash (for passes that read it), the versions of the libraries the pass
calls, edgec's own version and the source of the pass's module and of every edgec module it imports,
transitively (code_hash.py). Entries are published only whole (see
cache_store.py: a local folder or an fsspec URL) and verified by hash on read, so an interrupted compile can
never leave an entry that is later trusted.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from .cache_store import default_local_dir, is_url, open_store
from .code_hash import PACKAGE, code_hash
from .kind_lookup import kind_class
from .kinds import KIND_NAMES, Model
from .passes.base import Pass


def default_cache_dir() -> str | Path:
    """EDGEC_CACHE_DIR (a folder or an fsspec URL), else the user's local cache folder."""
    if env := os.environ.get("EDGEC_CACHE_DIR"):
        return env if is_url(env) else Path(env)
    return default_local_dir()


def library_versions(names: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


@functools.cache
def pass_code_hash(module_name: str) -> str:
    """Hash of the code a pass runs: editing a pass, or any edgec module it imports, invalidates its entries
    even within one version. A pass defined outside edgec is keyed by its own module's source."""
    if module_name.startswith(f"{PACKAGE}."):
        return code_hash(module_name)
    source = inspect.getsourcefile(sys.modules[module_name])
    return hashlib.sha256(Path(source).read_bytes()).hexdigest() if source else "unknown"


def cache_key(pass_: Pass, model: Model, calibration_hash: str | None, training_hash: str | None = None) -> str:
    material = {
        "edgec": __version__,
        "code": pass_code_hash(type(pass_).__module__),
        "pass": pass_.name,
        "config": pass_.config(),
        "input": model.fingerprint,
        "calibration": calibration_hash if pass_.uses_calibration else None,
        "training": training_hash if pass_.uses_training else None,
        "libraries": library_versions(pass_.libraries),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


class PassCache:
    """Verified pass outputs keyed by `cache_key`, in a folder or at an fsspec URL (cache_store.py)."""

    def __init__(self, location: str | Path):
        self._store = open_store(location)
        # how another process or machine reaches the same cache (search workers): absolute, as their
        # working folder is not this one's
        self.location = str(location) if is_url(str(location)) else str(Path(location).absolute())

    def scratch(self) -> Path:
        """A local folder for passes' own reusable intermediates (see Context.scratch)."""
        return self._store.scratch()

    def load(self, key: str) -> tuple[Model, dict[str, Any]] | None:
        found = self._store.read(key)
        if found is None:
            return None
        meta, payload = found
        if hashlib.sha256(payload).hexdigest() != meta.get("sha256") or meta.get("kind") not in KIND_NAMES:
            self._store.discard(key)  # torn or tampered: never trust it, recompute
            return None
        model = kind_class(meta["kind"]).from_bytes(payload)  # type: ignore[attr-defined]
        return model, meta.get("details", {})

    def store(self, key: str, model: Model, details: dict[str, Any]) -> bool:
        payload = model.to_bytes()
        if payload is None:
            return False
        meta = {"kind": model.kind, "sha256": hashlib.sha256(payload).hexdigest(), "details": details}
        self._store.write(key, meta, payload)
        return True
