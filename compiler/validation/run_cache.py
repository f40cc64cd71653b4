"""Emulated runs kept by content: the same artifact on the same data under the same emulated core runs once.

An emulated run costs up to a minute (qemu, validation/kernels.py's budget), and a warm re-run of an unchanged
compile would pay it again for identical numbers. The entry is keyed by everything the outputs depend on (the
artifact's bytes, the data's hash and its streaming states, the core, the runtime, the threads, the layout,
the pinned wheel versions in the sysroot, and this module's code) and verified by sha256 on read
(cache_store's scratch entries): a torn or edited entry is never trusted.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ...runtimes.layout import IoLayout
from ..cache_store import read_scratch, scratch_path, write_scratch
from ..data import Dataset
from .evaluate import RunResult


def entry(
    folder: Path | None, core: str, runtime: str, model: bytes, data: Dataset, threads: int, layout: IoLayout | None
) -> Path | None:
    from ..emulator.sysroot import pins

    material = json.dumps(
        [hashlib.sha256(model).hexdigest(), data.sha256, core, runtime, threads,
         layout.to_dict() if layout else None, sorted(pins().items())]
    )  # fmt: skip
    return scratch_path(folder, "emulated-run", material, __name__)


def load(path: Path | None) -> RunResult | None:
    payload = read_scratch(path)
    if payload is None:
        return None
    with np.load(io.BytesIO(payload), allow_pickle=False) as stored:
        facts: dict[str, Any] = json.loads(bytes(stored["facts"]).decode())
        return RunResult(stored["outputs"], facts["runtime"], facts["version"], int(facts["threads"]))


def store(path: Path | None, run: RunResult) -> None:
    if path is None:
        return
    facts = json.dumps({"runtime": run.runtime, "version": run.version, "threads": run.threads}).encode()
    buffer = io.BytesIO()
    np.savez(buffer, outputs=run.outputs, facts=np.frombuffer(facts, dtype=np.uint8))
    write_scratch(path, buffer.getvalue())
