"""Run an artifact in the target's own aarch64 runtime build under qemu-user emulation of the target core.

The numbers come from the runtime's Arm kernels (ONNX Runtime's aarch64 MLAS, LiteRT's XNNPACK for Arm),
not the x86 build host's, whose int8 paths differ (AVX2-only x86 ORT saturates in its U8S8 GEMM). Timings
under emulation say nothing about the device's speed; `seconds` is only what the run cost here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ToolchainError
from .cores import cpuinfo_text, pick
from .sysroot import find, status
from .x86 import X86_MODELS, x86_family, x86_prefix

PACKAGE = Path(__file__).resolve().parents[2]  # the edgec package (the repository root)
MODEL_SUFFIX = {"onnxruntime": ".onnx", "litert": ".tflite"}


@dataclass(frozen=True)
class Guest:
    """How to start the emulated target's Python: the qemu command up to the script, and where its packages are."""

    prefix: list[str]
    site: Path | None  # the target's packages; None when the guest is this host's own Python (an x86 family)
    qemu_cpu: str
    note: str  # when the core is not the one asked for (qemu lacks it), what stands in and why

    def pythonpath(self, *first: Path) -> str:
        """PYTHONPATH for the guest: `first`, then the target's packages where the guest has its own."""
        return ":".join(str(path) for path in (*first, self.site) if path is not None)


def guest(core: str) -> Guest:
    """The emulated Python for `core` (e.g. cortex-a72, or the x86 family x86-avx2); ToolchainError with one
    line when it cannot be."""
    if x86_family(core):
        try:
            return Guest(x86_prefix(core), None, X86_MODELS[core].split(",")[0], "")
        except FileNotFoundError as exc:
            raise ToolchainError(str(exc)) from exc
    try:
        chosen, note = pick(core)
    except ValueError as exc:
        raise ToolchainError(str(exc)) from exc
    emulator = find()
    if emulator is None:
        raise ToolchainError(f"cannot emulate {core}: {status()}")
    root = emulator.core_root(cpuinfo_text(chosen, _host_cpus()), f"{chosen.qemu}-n{_host_cpus()}")
    prefix = [emulator.qemu, "-cpu", chosen.qemu, "-L", str(root), str(root) + emulator.python, "-B", "-s"]
    return Guest(prefix, emulator.site, chosen.qemu, note)


def guest_env(home: Path, pythonpath: str) -> dict[str, str]:
    """A clean environment for the guest: nothing of the host's Python leaks in, no telemetry."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": pythonpath,
        "PYTHONNOUSERSITE": "1",
        "ORT_DISABLE_TELEMETRY": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


@dataclass(frozen=True)
class EmulatedRun:
    outputs: list[np.ndarray]  # the one the gate judges (runner.run_judged), in the baseline's layout
    runtime_version: str  # as the emulated runtime reports itself, e.g. "1.32.0" or "ai_edge_litert 2.3.0"
    cpu: str  # the emulated core and what the program saw, plus a note when it is not the profile's core
    seconds: float  # wall time of the whole emulated process (imports dominate), not a device timing
    run_seconds: float = 0.0  # of which loading the model and running every sample
    qemu_cpu: str = ""
    note: str = ""


def run_emulated(
    core: str,
    runtime: str,
    model: bytes,
    inputs: dict[str, Any],
    threads: int = 1,
    layout=None,
    batch_size: int = 64,
    timeout: float = 900.0,
    states: tuple[tuple[int, str], ...] = (),
) -> EmulatedRun:
    """Run `model` over every row of `inputs` (baseline layout) in `runtime` emulated on `core`.

    Raises ToolchainError with one line for every failure: no emulator, an unknown core, a crash, a timeout."""
    if runtime not in MODEL_SUFFIX:
        raise ToolchainError(f"unknown runtime {runtime!r} for emulation; known: {', '.join(MODEL_SUFFIX)}")
    emulated = guest(core)
    with tempfile.TemporaryDirectory(prefix="edgec-emu-") as scratch:
        work = Path(scratch)
        _package_copy(work / "pkg")
        model_name = "model" + MODEL_SUFFIX[runtime]
        (work / model_name).write_bytes(model)
        # Any: numpy's stubs let a ** key be savez's allow_pickle (a bool, a recent parameter); passing
        # allow_pickle itself would save it as an array under an older numpy, such as a device may have
        arrays: dict[str, Any] = {name: np.asarray(array) for name, array in inputs.items()}
        np.savez(work / "inputs.npz", **arrays)
        request = {
            "runtime": runtime,
            "model": model_name,
            "threads": threads,
            "batch_size": batch_size,
            "layout": layout.to_dict() if layout is not None else None,
            "states": [list(pair) for pair in states],  # streamed step by step when given (runner.run_streaming)
        }
        (work / "request.json").write_text(json.dumps(request))
        command = [*emulated.prefix, "-m", "edgec.runtimes.run_file", str(work)]
        env = guest_env(work, emulated.pythonpath(work / "pkg"))
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, cwd=work)
        except subprocess.TimeoutExpired as exc:
            where = f"emulated {runtime} on {emulated.qemu_cpu}"
            raise ToolchainError(f"{where} did not finish within {timeout:.0f} s") from exc
        except OSError as exc:
            raise ToolchainError(f"cannot start {emulated.prefix[0]}: {exc}") from exc
        seconds = time.perf_counter() - started
        result = _read_json(work / "result.json")
        if done.returncode != 0 or result is None or "error" in result:
            raise ToolchainError(f"emulated {runtime} on {emulated.qemu_cpu} failed: {_why(done, result)}")
        with np.load(work / "outputs.npz") as stored:
            outputs = [stored[f"output_{i}"] for i in range(len(stored.files))]
    seen = result.get("cpu", {})
    sees = f"guest sees {seen.get('machine', '?')}, CPU part {seen.get('CPU part', '?')}"
    cpu = f"{emulated.qemu_cpu} (qemu-user; {sees})" + (f"; {emulated.note}" if emulated.note else "")
    return EmulatedRun(
        outputs=outputs,
        runtime_version=str(result["runtime_version"]),
        cpu=cpu,
        seconds=seconds,
        run_seconds=float(result.get("load_seconds", 0.0)) + float(result.get("run_seconds", 0.0)),
        qemu_cpu=emulated.qemu_cpu,
        note=emulated.note,
    )


def _package_copy(target: Path) -> None:
    """`edgec/__init__.py` and `edgec/runtimes/*.py` only: the emulated Python can import the runners and
    nothing of the compiler (whose imports would need torch, onnx, ...)."""
    (target / "edgec" / "runtimes").mkdir(parents=True)
    shutil.copy2(PACKAGE / "__init__.py", target / "edgec" / "__init__.py")
    for source in (PACKAGE / "runtimes").glob("*.py"):
        shutil.copy2(source, target / "edgec" / "runtimes" / source.name)


def _host_cpus() -> int:
    """How many CPUs sysfs says are possible: the guest's /proc/cpuinfo must describe each of them."""
    try:
        text = Path("/sys/devices/system/cpu/possible").read_text().strip()
        return max(int(part.split("-")[-1]) for part in text.split(",")) + 1
    except (OSError, ValueError):
        return os.cpu_count() or 1


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _why(done: subprocess.CompletedProcess, result: dict | None) -> str:
    if result and "error" in result:
        return result["error"]
    if done.returncode < 0 or done.returncode >= 128:
        number = -done.returncode if done.returncode < 0 else done.returncode - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"the emulated process died of {name}"
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode} and no message"
