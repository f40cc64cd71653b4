"""Registering builds and reading them back.

Registration is an idempotent upsert by id: registering a folder again (after `edgec report ingest` added a
device run, or from `reindex`) refreshes its row and adds the device runs its report.json now holds, and keeps
the first registration time. Rows are never removed here: a build folder replaced by a later compile keeps its
old row, which `status` then reports as `replaced`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import journal
from .record import BuildRecord, device_run_summary, folder_id, read_folder
from .store import opened, registry_path, transaction

COLUMNS = (
    "id, created, model, model_sha256, calibration_sha256, evaluation_sha256, target, pipelines, edgec_version, "
    "tools, artifacts, metrics, verdict, path"
)
JSON_COLUMNS = ("pipelines", "tools", "artifacts", "metrics")


def register_build(folder: Path, created: float | None = None, registry: Path | None = None) -> str:
    """Record the build in `folder` (and the device runs in its report) and return its id."""
    registry = registry or registry_path()
    with opened(registry) as connection, transaction(connection):
        record = read_folder(folder, time.time() if created is None else created)
        known = connection.execute("SELECT created FROM builds WHERE id = ?", (record.id,)).fetchone()
        record = record if known is None else replace(record, created=known[0])
        upsert(connection, record)
        if known is None:
            journal.append(registry, registered(record))
    return record.id


def registered(record: BuildRecord) -> dict[str, Any]:
    """The journal event of a first registration: it keeps the creation time a build folder does not hold."""
    return {"event": "register", "build": record.id, "path": record.path, "time": record.created}


def upsert(connection: sqlite3.Connection, record: BuildRecord) -> None:
    """Write `record` and its device runs inside the caller's transaction."""
    names = COLUMNS.split(", ")
    values = [getattr(record, c) for c in names]
    values = [json.dumps(v, sort_keys=True) if c in JSON_COLUMNS else v for c, v in zip(names, values, strict=True)]
    connection.execute(
        f"INSERT INTO builds ({COLUMNS}) VALUES ({', '.join('?' * len(values))}) ON CONFLICT (id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS.split(", ")[2:]),
        values,
    )
    for run in record.device_runs:
        _upsert_run(connection, record.id, run)


def record_device_run(build: str | Path, run: dict[str, Any], registry: Path | None = None) -> str:
    """Record one device run (a report.json `device_runs` entry, as `edgec report ingest` makes it) against a
    build given by id, id prefix or folder; returns the build id. Re-recording the same run replaces it."""
    with opened(registry) as connection, transaction(connection):
        build_id = resolve(connection, build)
        _upsert_run(connection, build_id, device_run_summary(run))
    return build_id


def list_builds(target: str | None = None, registry: Path | None = None) -> list[BuildRecord]:
    """Registered builds, oldest first, optionally of one target (without their device runs: see get_build)."""
    where, arguments = ("", ()) if target is None else (" WHERE target = ?", (target,))
    query = f"SELECT {COLUMNS} FROM builds{where} ORDER BY created, id"
    with opened(registry) as connection:
        return [_row(row) for row in connection.execute(query, arguments)]


def get_build(build: str | Path, registry: Path | None = None) -> BuildRecord:
    """The build with this id (or unique id prefix, or folder), with its device runs oldest first."""
    with opened(registry) as connection:
        build_id = resolve(connection, build)
        row = connection.execute(f"SELECT {COLUMNS} FROM builds WHERE id = ?", (build_id,)).fetchone()
        runs = connection.execute(
            "SELECT label, started, bundle_sha256, passed, metrics FROM device_runs WHERE build_id = ? "
            "ORDER BY started",
            (build_id,),
        ).fetchall()
    return replace(_row(row), device_runs=[_run(r) for r in runs])


def device_runs(target: str, registry: Path | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(build id, run) for every device run of `target`'s builds, oldest first: the device history."""
    with opened(registry) as connection:
        rows = connection.execute(
            "SELECT d.build_id, d.label, d.started, d.bundle_sha256, d.passed, d.metrics FROM device_runs d "
            "JOIN builds b ON b.id = d.build_id WHERE b.target = ? ORDER BY d.started",
            (target,),
        ).fetchall()
    return [(row[0], _run(row[1:])) for row in rows]


def status(record: BuildRecord) -> str:
    """`ok` when the folder still holds this build, `replaced` when it holds another, `missing` when it is gone."""
    try:
        return "ok" if folder_id(Path(record.path)) == record.id else "replaced"
    except InputError:
        return "missing"


def live_folder(build: str | Path, registry: Path | None = None) -> Path:
    """The folder of a registered build, refused when it no longer holds that build (its report would lie)."""
    record = get_build(build, registry)
    state = status(record)
    if state != "ok":
        raise InputError(f"build {record.id}: its folder {record.path} is {state}; `edgec builds list` shows which are")
    return Path(record.path)


def resolve(connection: sqlite3.Connection, build: str | Path) -> str:
    """An id from an id, a unique prefix of one, or a registered build folder."""
    text = str(build)
    if Path(text).is_dir():
        text = folder_id(Path(text))
        if connection.execute("SELECT 1 FROM builds WHERE id = ?", (text,)).fetchone():
            return text
        raise InputError(f"{build}: this build (id {text}) is not registered; run `edgec builds reindex {build}`")
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    found = [r[0] for r in connection.execute("SELECT id FROM builds WHERE id LIKE ? ESCAPE '\\'", (escaped + "%",))]
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(f"{text}: no registered build has this id; `edgec builds list` shows them")
    raise InputError(f"{text}: matches {len(found)} builds ({', '.join(sorted(found)[:4])}...); give more digits")


def _upsert_run(connection: sqlite3.Connection, build_id: str, run: dict[str, Any]) -> None:
    metrics = json.dumps(run["artifacts"], sort_keys=True)
    connection.execute(
        "INSERT INTO device_runs (build_id, label, started, bundle_sha256, passed, metrics) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (build_id, bundle_sha256, started) DO UPDATE SET label = excluded.label, "
        "passed = excluded.passed, metrics = excluded.metrics",
        (build_id, run["label"], run["started"], run["bundle_sha256"], int(run["passed"]), metrics),
    )


def _row(row: tuple[Any, ...]) -> BuildRecord:
    values = dict(zip(COLUMNS.split(", "), row, strict=True))
    return BuildRecord(**{k: json.loads(v) if k in JSON_COLUMNS else v for k, v in values.items()})


def _run(row: tuple[Any, ...]) -> dict[str, Any]:
    label, started, bundle, passed, metrics = row
    artifacts = json.loads(metrics)
    return {"label": label, "started": started, "bundle_sha256": bundle, "passed": bool(passed), "artifacts": artifacts}
