"""Where the build registry lives and how it is opened: one SQLite file per project, safe for concurrent compiles.

The project folder is `EDGEC_PROJECT` when set, else the current directory; the registry is
`<project>/.edgec/registry.sqlite3`. Several compiles may register at once, so the file runs in WAL mode (readers
never block the writer), every connection waits up to `BUSY_SECONDS` for a lock instead of failing, and every
write is one `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so two writers never deadlock
upgrading a read lock).

A damaged file is never repaired or deleted here: every SQLite error that means "this is not a sound database"
becomes one InputError line that names the file and says to run `edgec builds reindex`, which moves the file
aside and rebuilds the registry from the build folders (and the journal beside it).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError
from . import journal

FOLDER = ".edgec"
FILE = "registry.sqlite3"
SCHEMA_VERSION = 1
BUSY_SECONDS = 60.0
SIDECARS = ("-wal", "-shm", "-journal")  # SQLite's files beside the database; they belong to it

SCHEMA = """
CREATE TABLE IF NOT EXISTS builds (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    model TEXT NOT NULL,
    model_sha256 TEXT,
    calibration_sha256 TEXT,
    evaluation_sha256 TEXT,
    target TEXT NOT NULL,
    pipelines TEXT NOT NULL,
    edgec_version TEXT NOT NULL,
    tools TEXT NOT NULL,
    artifacts TEXT NOT NULL,
    metrics TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
    path TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS builds_by_target ON builds (target, created);
CREATE TABLE IF NOT EXISTS promotions (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    build_id TEXT NOT NULL REFERENCES builds (id),
    action TEXT NOT NULL CHECK (action IN ('promote', 'rollback')),
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS promotions_by_target ON promotions (target, sequence);
CREATE TABLE IF NOT EXISTS device_runs (
    build_id TEXT NOT NULL REFERENCES builds (id),
    label TEXT NOT NULL,
    started REAL NOT NULL,
    bundle_sha256 TEXT NOT NULL,
    passed INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (build_id, bundle_sha256, started)
);
"""


def project_folder() -> Path:
    """The project whose registry a command uses: `EDGEC_PROJECT`, else the current directory."""
    return Path(os.environ.get("EDGEC_PROJECT") or ".").absolute()


def registry_path(project: Path | None = None) -> Path:
    return (project or project_folder()) / FOLDER / FILE


@contextmanager
def opened(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """The registry at `path` (default: the project's), created on first use; SQLite failures become one line."""
    path = path or registry_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path.parent}: cannot create the build registry folder ({exc.strerror or exc})") from None
    try:
        _check_not_emptied(path)
        connection = _connect(path)
    except sqlite3.DatabaseError as exc:
        raise explain(path, exc) from None
    try:
        yield connection
    except sqlite3.DatabaseError as exc:
        raise explain(path, exc) from None
    finally:
        connection.close()


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction holding the write lock from its first statement, committed as a whole or not at all."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def problem(path: Path) -> str | None:
    """Why the registry at `path` cannot be used (None: it is sound or absent); reads, never changes it."""
    if not path.exists():
        return None
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_SECONDS)
        try:
            found = connection.execute("PRAGMA quick_check").fetchone()[0]
            _check_schema(connection)
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if found == "ok" else str(found)


def explain(path: Path, exc: sqlite3.DatabaseError) -> InputError:
    """The one line a user reads for a SQLite failure: busy, unreadable, or damaged (and then what to run)."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return InputError(f"{path}: the build registry stayed locked for {BUSY_SECONDS:g} s by another edgec; retry")
    if "unable to open" in text or "readonly" in text:
        return InputError(f"{path}: cannot open the build registry ({text}); check the folder's permissions")
    return InputError(
        f"{path}: the build registry is damaged ({text}); run `edgec builds reindex` to rebuild it from the "
        "build folders (the damaged file is kept beside it)"
    )


def _check_not_emptied(path: Path) -> None:
    """A registry file of 0 bytes whose journal records registrations was truncated (SQLite would open it as a
    new, empty database and every command would say "no builds registered yet"). A 0-byte file without a
    journal is a registry a concurrent first compile is creating this instant: left alone."""
    try:
        empty = path.stat().st_size == 0
    except FileNotFoundError:
        return
    if empty and journal.events(path):
        raise sqlite3.DatabaseError("the file is empty (0 bytes) although its journal records registered builds")


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
        _wal(connection)
        connection.execute("PRAGMA foreign_keys = ON")
        if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            _create(connection)
        _check_schema(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _wal(connection: sqlite3.Connection) -> None:
    """Switch to WAL; the first switch of a new file needs an exclusive lock that SQLite does not wait for
    through its busy handler, so concurrent first openers retry here."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _create(connection: sqlite3.Connection) -> None:
    with transaction(connection):
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if version == SCHEMA_VERSION:
            return  # another process created it while this one waited for the lock
        if version != 0 or tables:
            raise sqlite3.DatabaseError(f"not an edgec registry of schema {SCHEMA_VERSION} (user_version {version})")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check_schema(connection: sqlite3.Connection) -> None:
    names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = {"builds", "promotions", "device_runs"} - names
    if missing:
        raise sqlite3.DatabaseError(f"tables missing: {', '.join(sorted(missing))}")
