"""report.json's contract: compiler/report.schema.json (JSON Schema 2020-12), checked whenever a report is read.

CI scripts read reports by field name, so a report of this edgec's schema version that does not match the
schema is refused with the path of the first mismatch, not half-read. Reports of an older 1.x minor version lack
fields added since; they are read as they are (diffing tolerates the missing fields).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from .errors import InputError

SCHEMA_FILE = Path(__file__).with_name("report.schema.json")


@cache
def report_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def check_report(report: dict[str, Any], where: str) -> None:
    """Raise InputError naming the first place `report` breaks the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(report_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(report))
    if error is not None:
        path = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise InputError(f"{where}: not a valid edgec report at {path}: {error.message[:200]}")
