"""Writing a build directory atomically.

Everything is written into a hidden staging folder beside the destination and renamed into place at the
end, so a crash leaves no half directory. A build that failed its gate never replaces an existing build:
it lands beside it in `<out>.failed/`. `--force` only ever replaces a folder that is an edgec build (or
empty), so a mistyped `-o ~` cannot delete a home directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import FILESYSTEM_ERRNOS, InputError, cannot_write

MANIFEST = "manifest.json"


def check_destination(out: Path, force: bool) -> None:
    """Refuse early, before any work, when writing `out` would clobber something."""
    if out.exists() and force:
        _refuse_current_folder(out)
    if not out.exists():
        folder = next(parent for parent in out.absolute().parents if parent.exists())
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"-o {out}: cannot create it ({folder} is not a writable folder); choose another path")
        return
    if not out.is_dir():
        raise InputError(f"-o {out}: exists and is not a directory; choose another output path")
    if not force:
        raise InputError(f"-o {out}: a build already exists there; pass --force to replace it or -o for another")
    if any(out.iterdir()) and not _is_build(out):
        raise InputError(
            f"-o {out}: is a non-empty folder that is not an edgec build; refusing to replace it even with --force"
        )


def write_build(out: Path, files: dict[str, bytes], passed: bool, replace: bool = True) -> Path:
    """Write `files` as the build at `out` (or `<out>.failed` when a failed build would replace one).

    With `replace` False (a compile without --force) `out` is claimed atomically: when another build landed
    there since check_destination, this one fails instead of silently replacing it."""
    if out.exists() and replace and passed:
        _refuse_current_folder(out)  # `-o .` also has no name to stage beside: its staging would land inside it
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    except OSError as exc:  # the destination, not edgec: say so instead of crashing after all the work
        raise cannot_write(out, exc, "choose a writable folder") from None
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; a build folder is as readable as any other
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        if not replace:
            _claim(out)
            try:
                staging.rename(out)  # onto the empty folder just claimed: atomic, and no other writer can claim it
            except OSError:
                with contextlib.suppress(OSError):
                    out.rmdir()
                raise
            return out
        destination = out if passed or not out.exists() else out.with_name(out.name + ".failed")
        _replace(staging, destination)
        return destination
    except OSError as exc:  # a full disk (or quota) while writing: one line naming it; the staging goes below
        if exc.errno not in FILESYSTEM_ERRNOS:
            raise
        raise cannot_write(out, exc, "choose another -o") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _refuse_current_folder(out: Path) -> None:
    """Replacing a build renames it away and deletes it: done to the current folder (`-o . --force` from inside
    a build) it fails with "Device or resource busy" after all the work, or leaves the shell in a deleted
    folder. Refuse it in one line instead."""
    here, target = Path.cwd().resolve(), out.resolve()
    if here == target or target in here.parents:
        raise InputError(
            f"-o {out}: is the current folder (or holds it), which cannot be replaced while in use; run edgec from "
            f"its parent folder with -o {target.name or target}"
        )


def _claim(out: Path) -> None:
    """Create `out` empty, or fail when anything already exists there (mkdir is atomic: one claimer wins)."""
    try:
        out.mkdir()
    except FileExistsError:
        raise InputError(
            f"-o {out}: exists now (another build was written there while this one ran); pass --force to replace "
            "it or -o for another path"
        ) from None


def _replace(staging: Path, destination: Path) -> None:
    if not destination.exists():
        staging.rename(destination)
        return
    if not destination.is_dir() or (any(destination.iterdir()) and not _is_build(destination)):
        raise InputError(
            f"{destination}: exists and is not an edgec build; refusing to replace it (move it away, or choose "
            "another -o)"
        )
    old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
    old.rmdir()
    destination.rename(old)  # two renames: the window without a build is as short as the OS allows
    try:
        staging.rename(destination)
    except OSError:
        old.rename(destination)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _is_build(folder: Path) -> bool:
    try:
        return "edgec_version" in json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError, TypeError):
        return False
