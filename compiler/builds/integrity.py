"""Whether a registered build's folder still holds what its manifest says: promotion and the listing check it.

`registry.status` compares ids only (the manifest's hash and the folder's path), so a build whose artifact was
edited, truncated or deleted after the compile still reads as `ok` there, and could be promoted: the registry
would then name files to ship that are not the ones that passed the gate. Here every file the manifest lists is
checked, by size first and then by sha256 (read in chunks, so a large artifact never sits in memory whole).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import InputError
from ..output import MANIFEST
from .record import BuildRecord
from .registry import status

CHUNK = 1 << 20


def altered_file(folder: Path) -> str | None:
    """The first file `folder`'s manifest lists that is missing or no longer matches its size and sha256."""
    try:
        files = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
        expected = {str(name): (int(entry["bytes"]), str(entry["sha256"])) for name, entry in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return MANIFEST
    for name, (size, sha256) in expected.items():
        path = folder / name
        try:
            if path.stat().st_size != size or _sha256(path) != sha256:
                return name
        except OSError:
            return name
    return None


def condition(record: BuildRecord) -> str:
    """`status` and more: `altered` when the folder holds this build but a file no longer matches the manifest."""
    state = status(record)
    if state == "ok" and altered_file(Path(record.path)) is not None:
        return "altered"
    return state


def check_intact(record: BuildRecord, action: str) -> None:
    """Refuse `action` (promote, ...) on a build whose folder is gone, holds another build, or was altered."""
    state = status(record)
    if state != "ok":
        raise InputError(
            f"build {record.id}: its folder {record.path} is {state}, so it cannot be {action}d; "
            "`edgec builds list` shows which builds are intact"
        )
    changed = altered_file(Path(record.path))
    if changed is not None:
        raise InputError(
            f"build {record.id}: {Path(record.path) / changed} is missing or does not match its manifest sha256 "
            f"(the build was altered after it passed its gate), so it cannot be {action}d; recompile it, or restore "
            "it with `edgec builds import ARCHIVE`"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
