"""Which build is in production per target: a promotion history that rollback walks back through.

The promotions table is an append-only log of `promote` and `rollback` actions per target. Replaying it as a
stack gives the state: a promotion pushes its build (unless it is already current), a rollback pops the current
one. So after promoting A, B, C, `rollback` makes B current, a second makes A current, and a third is refused
(nothing before A); promoting D after the first rollback gives A, B, D. The log is never rewritten, so the
whole history stays readable, and each action is also journaled so `reindex` can replay it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from . import journal
from .integrity import check_intact
from .record import BuildRecord
from .registry import get_build, live_folder, resolve, status
from .store import opened, registry_path, transaction


@dataclass(frozen=True)
class Rollback:
    current: BuildRecord  # promoted again
    previous: BuildRecord  # the build that was current before the rollback


def promote(build: str | Path, target: str, registry: Path | None = None) -> BuildRecord:
    """Make `build` the promoted build of `target`; refuses a build of another target, a failed one, and one whose
    folder is gone or no longer matches its manifest (integrity.py)."""
    registry = registry or registry_path()
    with opened(registry) as connection, transaction(connection):
        build_id = resolve(connection, build)
        found_target, verdict = connection.execute(
            "SELECT target, verdict FROM builds WHERE id = ?", (build_id,)
        ).fetchone()
        if found_target != target:
            raise InputError(f"build {build_id} was compiled for {found_target}, not {target}; promote it there")
        if verdict != "pass":
            raise InputError(f"build {build_id} failed its gate; only a passing build can be promoted")
        check_intact(get_build(build_id, registry), "promote")  # the files that passed, not edited copies
        if _stack(connection, target)[-1:] != [build_id]:
            _log(connection, registry, target, build_id, "promote")
    return get_build(build_id, registry)


def rollback(target: str, registry: Path | None = None) -> Rollback:
    """Make the build promoted before the current one current again; refuses when there is none, or when its
    folder no longer holds the artifacts it was registered with (nothing to ship)."""
    registry = registry or registry_path()
    with opened(registry) as connection, transaction(connection):
        stack = _stack(connection, target)
        if not stack:
            raise InputError(f"{target}: no build is promoted, so there is nothing to roll back")
        if len(stack) == 1:
            raise InputError(
                f"{target}: build {stack[0]} is the only promoted build; there is no previous one to roll back to"
            )
        back = get_build(stack[-2], registry)
        _check_shippable(back)
        _log(connection, registry, target, back.id, "rollback")
    return Rollback(back, get_build(stack[-1], registry))


def promoted(target: str, registry: Path | None = None) -> BuildRecord | None:
    """The build currently promoted for `target`, or None."""
    with opened(registry) as connection:
        stack = _stack(connection, target)
    return get_build(stack[-1], registry) if stack else None


def baseline_for(target: str, model: str, registry: Path | None = None) -> BuildRecord | None:
    """`target`'s promoted build when it is a build of `model`: the default baseline a new build of `model` for
    that target is held to (a build of another model has other artifacts: no baseline for it)."""
    current = promoted(target, registry)
    return current if current is not None and current.model == model else None


def promoted_folder(target: str, model: str, registry: Path | None = None) -> tuple[str, Path]:
    """(id, folder) of `baseline_for(target, model)`; an error naming what is promoted when there is none."""
    current = baseline_for(target, model, registry)
    if current is None:
        other = promoted(target, registry)
        promoted_now = "" if other is None else f" (build {other.id} of {other.model} is)"
        raise InputError(
            f"{target}: no build of {model} is promoted to compare against{promoted_now}; give BASE, or "
            f"`edgec builds promote ID --target {target}` first"
        )
    return current.id, live_folder(current.id, registry)


def history(target: str, registry: Path | None = None) -> list[tuple[int, str, str, float]]:
    """(sequence, action, build id, time) of every promotion and rollback of `target`, oldest first."""
    with opened(registry) as connection:
        return connection.execute(
            "SELECT sequence, action, build_id, time FROM promotions WHERE target = ? ORDER BY sequence", (target,)
        ).fetchall()


def replay(connection: sqlite3.Connection, event: dict[str, object]) -> bool:
    """Apply one journaled promote/rollback during reindex; False when its build is no longer registered."""
    known = connection.execute("SELECT 1 FROM builds WHERE id = ?", (event["build"],)).fetchone()
    if known is None:
        return False
    connection.execute(
        "INSERT INTO promotions (target, build_id, action, time) VALUES (?, ?, ?, ?)",
        (event["target"], event["build"], event["event"], event["time"]),
    )
    return True


def _stack(connection: sqlite3.Connection, target: str) -> list[str]:
    stack: list[str] = []
    query = "SELECT action, build_id FROM promotions WHERE target = ? ORDER BY sequence"
    for action, build_id in connection.execute(query, (target,)):
        if action == "promote":
            stack.append(build_id)
        elif stack:
            stack.pop()
    return stack


def _log(connection: sqlite3.Connection, registry: Path, target: str, build_id: str, action: str) -> None:
    now = time.time()
    connection.execute(
        "INSERT INTO promotions (target, build_id, action, time) VALUES (?, ?, ?, ?)", (target, build_id, action, now)
    )
    journal.append(registry, {"event": action, "target": target, "build": build_id, "time": now})


def _check_shippable(record: BuildRecord) -> None:
    state = status(record)
    if state != "ok":
        raise InputError(
            f"build {record.id}: its folder {record.path} is {state}, so its artifacts cannot be shipped; "
            f"restore it first (`edgec builds import ARCHIVE -o {record.path}` gives it back its id)"
        )
    for artifact in record.artifacts:
        digest = hashlib.sha256(Path(artifact["path"]).read_bytes()).hexdigest()
        if digest != artifact["sha256"]:
            raise InputError(f"{artifact['path']}: does not match its registered sha256; the build was altered")
