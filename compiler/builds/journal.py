"""The registry's journal: the facts a build folder cannot hold, kept as append-only JSON lines beside the database.

A build folder records what was built, but not when it was registered nor which build a person promoted. So
every registration and every promotion or rollback is also appended here, inside the same write transaction
(the order of lines is the order of commits). `reindex` reads it back to restore creation times and the
promotion history when the database is lost. A line that cannot be parsed (a torn last write) is skipped: the
journal is the fallback, never a reason to fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FILE = "journal.jsonl"


def journal_path(registry: Path) -> Path:
    return registry.with_name(FILE)


def append(registry: Path, event: dict[str, Any]) -> None:
    """Append one event as one write(2) on an O_APPEND descriptor, so concurrent writers never interleave it."""
    line = (json.dumps(event, sort_keys=True) + "\n").encode()
    descriptor = os.open(journal_path(registry), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def events(registry: Path) -> list[dict[str, Any]]:
    """Every readable event, oldest first; none when there is no journal."""
    try:
        lines = journal_path(registry).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and "event" in event:
            found.append(event)
    return found
