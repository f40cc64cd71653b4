"""Run one artifact over inputs stored in a folder: the entry point of an emulated (or any remote) run.

    python -m edgec.runtimes.run_file FOLDER

FOLDER holds request.json ({"runtime", "model", "threads", "batch_size", "layout"}), inputs.npz and the
model file. Writes outputs.npz (output_0, output_1, ... in the artifact's output order) and result.json
(runtime version, the CPU the process sees, seconds spent loading and running) or, on failure, result.json
with "error". Imports numpy and the one runtime only, never the compiler.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import open_runner
from .layout import IoLayout
from .runner import run_judged


def visible_cpu() -> dict[str, str]:
    """What this process is told about its CPU: the machine, /proc/cpuinfo's first ARM identification lines."""
    seen = {"machine": platform.machine()}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return seen
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("CPU implementer", "CPU part", "CPU variant", "CPU revision", "Features", "model name"):
            seen.setdefault(key, value.strip())
    return seen


def main(folder: Path) -> int:
    request = json.loads((folder / "request.json").read_text())
    result: dict = {"python": platform.python_version(), "cpu": visible_cpu()}
    try:
        started = time.perf_counter()
        runner = open_runner(request["runtime"], folder / request["model"], threads=int(request["threads"]))
        loaded = time.perf_counter()
        with np.load(folder / "inputs.npz") as stored:
            inputs = {name: stored[name] for name in stored.files}
        layout = IoLayout.from_dict(request["layout"]) if request.get("layout") else None
        states = [(int(index), str(name)) for index, name in request.get("states") or []]
        batch_size = int(request.get("batch_size", 64))
        outputs = [run_judged(runner, inputs, states, layout, batch_size)]  # the one output the gate judges
        ran = time.perf_counter()
        # Any: numpy's stubs let a ** key be savez's allow_pickle (a bool, a recent parameter); passing
        # allow_pickle itself would save it as an array under an older numpy, such as a device may have
        arrays: dict[str, Any] = {f"output_{i}": o for i, o in enumerate(outputs)}
        np.savez(folder / "outputs.npz", **arrays)
        result.update(
            runtime_version=runner.version,
            numpy_version=np.__version__,
            load_seconds=loaded - started,
            run_seconds=ran - loaded,
            samples=len(next(iter(inputs.values()))),
        )
        status = 0
    except Exception as exc:  # reported to the caller as one line
        result["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        status = 1
    (folder / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
