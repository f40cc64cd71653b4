"""The build registry: every compile's build recorded in a per-project SQLite file, promoted per target, rolled
back, compared, exported and imported, with the device runs ingested against it.

Everything the registry holds can be rebuilt from the build folders plus the journal beside the database
(`reindex`), so the database is an index, never the only copy of a fact. See store.py for where it lives and why
it is safe under concurrent compiles. Importing this package loads only the standard library (and edgec's own
light modules): the trend plot imports matplotlib when drawn.
"""

from .archive import Imported, export_build, import_build
from .promotion import Rollback, history, promote, promoted, promoted_folder, rollback
from .record import BuildRecord
from .registry import device_runs, get_build, list_builds, live_folder, record_device_run, register_build, status
from .reindex import Reindexed, reindex
from .store import registry_path

__all__ = [
    "BuildRecord",
    "Imported",
    "Reindexed",
    "Rollback",
    "device_runs",
    "export_build",
    "get_build",
    "history",
    "import_build",
    "list_builds",
    "live_folder",
    "promote",
    "promoted",
    "promoted_folder",
    "record_device_run",
    "register_build",
    "registry_path",
    "reindex",
    "rollback",
    "status",
]
