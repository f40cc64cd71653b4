"""Device-side runners: load an artifact, run it, time it. numpy plus one runtime, never the compiler.

The compiler validates artifacts through these same runners, so "it passed on the host" and "it runs on the
device" are one code path (docs/design.md principle 4).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runner import Runner

RUNNERS: dict[str, str] = {
    "onnxruntime": "edgec.runtimes.onnxruntime_runner:OnnxRuntimeRunner",
    "onnxruntime-exact": "edgec.runtimes.onnxruntime_runner:OnnxRuntimeExactRunner",  # QDQ math, ISA-free
    "litert": "edgec.runtimes.litert_runner:LiteRtRunner",
    "tflm": "edgec.runtimes.tflm_runner:TflmRunner",
}
# the pip package each runtime comes from (a device venv installs these; a missing one is named by them)
RUNTIME_PACKAGES: dict[str, str] = {
    "onnxruntime": "onnxruntime",
    "onnxruntime-exact": "onnxruntime",
    "litert": "ai-edge-litert",
    "tflm": "tflite-micro",
}


def open_runner(runtime: str, model: bytes | str | Path, threads: int = 1) -> Runner:
    """Open `model` in the named runtime; the import happens here so unused runtimes need not be installed."""
    if runtime not in RUNNERS:
        raise ValueError(f"unknown runtime {runtime!r}; known: {', '.join(RUNNERS)}")
    module_name, _, class_name = RUNNERS[runtime].partition(":")
    return getattr(importlib.import_module(module_name), class_name)(model, threads=threads)
