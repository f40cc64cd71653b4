"""`edgec builds reindex`: rebuild the registry from the build folders and the journal.

Each folder under the given roots holding a manifest.json and a report.json is registered again: its id, fields
and device runs come from the folder, so they are the same as before; its registration time and the promotion
history come from the journal. The new database is written beside the old one and renamed over it at the end.
The old file is never deleted: it is moved aside as `registry.sqlite3.corrupt-<time>` when damaged, else as
`registry.sqlite3.previous-<time>` (it may hold builds whose folders are gone). Hidden folders are not searched:
staging and old folders of an interrupted write (`.<name>.staging-*`), `.edgec` itself, `.venv`, `.git`.

Run it while no compile is registering: a registration that lands in the old file during the rebuild is in the
moved-aside file, not the new one (re-register it with a second `reindex`).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import InputError
from ..output import MANIFEST
from . import journal
from .promotion import replay
from .record import REPORT, folder_id, read_folder
from .registry import registered, upsert
from .store import SIDECARS, opened, problem, project_folder, registry_path, transaction


@dataclass
class Reindexed:
    builds: list[str] = field(default_factory=list)  # ids, in the order found
    device_runs: int = 0
    promotions: int = 0
    promotions_dropped: int = 0  # journaled promotions of builds whose folders are gone
    skipped: list[str] = field(default_factory=list)  # "<folder>: <why>"
    moved_aside: Path | None = None
    damaged: str | None = None  # what was wrong with the old file


def reindex(folders: list[Path] | None = None, registry: Path | None = None) -> Reindexed:
    """Rebuild the registry at `registry` (default: the project's) from the build folders under `folders`
    (default: the project folder)."""
    registry = registry or registry_path()
    roots = folders or [project_folder()]
    missing = [str(f) for f in roots if not f.is_dir()]
    if missing:
        raise InputError(f"{', '.join(missing)}: no such folder to search for builds")
    registry.parent.mkdir(parents=True, exist_ok=True)
    events = journal.events(registry)
    times = {e["build"]: float(e["time"]) for e in reversed(events) if e["event"] == "register"}
    found = Reindexed(damaged=problem(registry))
    fresh = registry.with_name(f"{registry.name}.reindex-{os.getpid()}")
    _remove(fresh)
    try:
        with opened(fresh) as connection, transaction(connection):
            for folder in _build_folders(roots):
                _register(connection, registry, folder, times, found)
            for event in events:
                if event["event"] in ("promote", "rollback"):
                    kept = replay(connection, event)
                    found.promotions += kept
                    found.promotions_dropped += not kept
        found.moved_aside = _move_aside(registry, "corrupt" if found.damaged else "previous")
        os.replace(fresh, registry)
    finally:
        _remove(fresh)
    return found


def _register(
    connection: sqlite3.Connection, registry: Path, folder: Path, times: dict[str, float], found: Reindexed
) -> None:
    try:
        build_id = folder_id(folder)
        created = times.get(build_id)
        record = read_folder(folder, created if created is not None else (folder / MANIFEST).stat().st_mtime)
    except InputError as exc:
        found.skipped.append(str(exc))
        return
    if record.id in found.builds:
        return  # the same folder reached through two roots
    upsert(connection, record)
    if created is None:  # first time this build is seen: journal it, so its time survives the next reindex
        journal.append(registry, registered(record))
    found.builds.append(record.id)
    found.device_runs += len(record.device_runs)


def _build_folders(roots: list[Path]) -> list[Path]:
    """Folders holding both manifest.json and report.json under `roots`, hidden folders pruned, sorted."""
    found = set()
    for root in roots:
        for here, subfolders, files in os.walk(root.absolute()):
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
            if MANIFEST in files and REPORT in files:
                found.add(Path(here))
    return sorted(found)


def _move_aside(registry: Path, why: str) -> Path | None:
    """Rename the old database and its SQLite sidecar files out of the way, keeping them; None when none."""
    if not registry.exists():
        return None
    aside = registry.with_name(f"{registry.name}.{why}-{datetime.now().strftime('%Y%m%dT%H%M%S%f')}")
    for suffix in SIDECARS:  # a stale WAL beside the new file would be replayed into it
        sidecar = registry.with_name(registry.name + suffix)
        if sidecar.exists():
            os.replace(sidecar, aside.with_name(aside.name + suffix))
    os.replace(registry, aside)
    return aside


def _remove(path: Path) -> None:
    for name in (path, *(path.with_name(path.name + s) for s in SIDECARS)):
        name.unlink(missing_ok=True)
