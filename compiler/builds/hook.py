"""The registry as a side step of commands whose real work is elsewhere (compile, report ingest): registering
the build, and finding the promoted build a new compile is held to.

By the time a build is registered its folder is written, and the folder is the truth the registry indexes.
So a registry that cannot be written (damaged, locked too long, a read-only project) must not turn a good
compile into a failed one: it costs a warning on stderr that says how to catch up (`edgec builds reindex`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import EdgecError


def register_quietly(folder: Path, project: Path | None = None) -> str | None:
    """Register the build in `folder` in `project`'s registry (default: EDGEC_PROJECT or here); its id, or None
    after a one-line warning on stderr."""
    from .registry import register_build
    from .store import registry_path

    try:
        return register_build(folder, registry=registry_path(project))
    except (EdgecError, OSError) as exc:
        print(
            f"edgec: warning: {folder} is written but not in the build registry ({exc}); "
            "`edgec builds reindex` adds it later",
            file=sys.stderr,
        )
        return None


def promoted_baseline(target: str, model: str, project: Path | None = None) -> tuple[Path, str] | None:
    """(folder, name) of the build promoted for `target` when it is a build of `model`: the baseline a compile
    is held to unless told otherwise. None when there is none; a registry that cannot be read costs a warning,
    not the compile, and the warning says the regression check did not run."""
    from .promotion import baseline_for
    from .registry import live_folder
    from .store import registry_path

    registry = registry_path(project)
    try:
        current = baseline_for(target, model, registry)
        if current is None:
            return None
        return live_folder(current.id, registry), f"promoted build {current.id}"
    except (EdgecError, OSError) as exc:
        print(
            f"edgec: warning: no regression check against the promoted {target} build: the registry cannot be "
            f"read ({exc}); `edgec builds reindex` repairs it, or pass --baseline",
            file=sys.stderr,
        )
        return None
