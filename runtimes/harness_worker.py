"""One artifact measured in a process of its own: load, cold run, warm latency, accuracy, kernels, memory.

Its own process because peak memory is per process (one model's peak must not include the last one's) and
because a runtime that crashes on an artifact must cost that artifact's result, not the whole run. The parent
(harness.py) passes its settings as JSON and reads the result back from a file.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import RUNNERS, RUNTIME_PACKAGES, metrics, open_runner
from .bundle import Bundle, BundleArtifact, EvalSubset, artifact_member
from .jsonio import to_json
from .kernels import litert_kernels, onnxruntime_kernels, tflm_kernels
from .layout import artifact_inputs
from .memory import current_rss_bytes, peak_rss_bytes, reset_peak
from .output_kinds import infer_kind
from .runner import Runner, run_judged
from .timing import bounded_runs, latency_record, time_runs


class MissingRuntime(RuntimeError):
    """The artifact's runtime does not import on this device."""


@dataclass
class Settings:
    """How long to measure: at least `runs` warm runs and `min_seconds`, never past `max_seconds`."""

    threads: int
    runs: int = 50
    min_seconds: float = 1.0
    max_seconds: float = 10.0
    warmup: int = 5
    batch_size: int = 32


def measure(bundle: Bundle, artifact: BundleArtifact, settings: Settings) -> dict[str, Any]:
    model = bundle.read(artifact_member(artifact.file))
    data = bundle.data()
    start_rss, windowed = current_rss_bytes(), reset_peak()
    started = time.perf_counter()
    _import_runtime(artifact)
    import_ms = (time.perf_counter() - started) * 1e3
    started = time.perf_counter()
    runner = open_runner(artifact.runtime, model, threads=settings.threads)
    load_ms = (time.perf_counter() - started) * 1e3
    one = artifact_inputs({name: array[:1] for name, array in data.inputs.items()}, artifact.layout)
    (first_ms,) = time_runs(runner, one, 1)
    time_runs(runner, one, settings.warmup)
    samples = bounded_runs(runner, one, settings.runs, settings.min_seconds, settings.max_seconds)
    accuracy = _accuracy(runner, artifact, data, settings.batch_size)
    kernels = _kernels(runner, artifact, model, one, settings.threads)
    peak = peak_rss_bytes()
    return {
        "artifact": artifact.name,
        "file": artifact.file,
        "sha256": artifact.sha256,
        "runtime": f"{runner.runtime} {runner.version}",
        "threads": runner.threads,
        "import_ms": round(import_ms, 3),
        "load_ms": round(load_ms, 3),
        "first_inference_ms": round(first_ms, 3),
        "warmup_runs": settings.warmup,
        "latency": _latency(samples),
        "memory": {
            "peak_rss_bytes": peak,
            "start_rss_bytes": start_rss,
            "model_peak_rss_bytes": peak - start_rss if windowed and start_rss is not None else None,
            "method": "VmHWM after clear_refs" if windowed else "getrusage maxrss (whole process)",
            "arena_used_bytes": getattr(runner, "arena_used_bytes", None),  # TFLite Micro's tensor arena
        },
        "kernels": kernels,
        "accuracy": accuracy,
    }


def _import_runtime(artifact: BundleArtifact) -> None:
    """Import the artifact's runner (and its runtime) apart from the load, so a missing runtime says so."""
    module_name = RUNNERS[artifact.runtime].partition(":")[0]
    try:
        importlib.import_module(module_name).import_runtime()
    except ImportError as exc:
        package = RUNTIME_PACKAGES[artifact.runtime]
        raise MissingRuntime(
            f"{artifact.name}: runtime {artifact.runtime} is not installed on this device; pip install {package}"
        ) from exc


def _latency(samples: list[float]) -> dict[str, Any]:
    return {"batch": 1, **latency_record(samples), "throughput_per_s": round(len(samples) / (sum(samples) / 1e3), 3)}


def _accuracy(runner: Runner, artifact: BundleArtifact, data: EvalSubset, batch_size: int) -> dict[str, Any]:
    """The three rows on the bundled subset, and device vs host outputs of the same artifact."""
    outputs = run_judged(runner, data.inputs, data.states, artifact.layout, batch_size)  # streamed, if it was built so
    host = data.host_outputs[artifact.name]
    rows: dict[str, Any] = {"samples": len(data), "labels": data.labels is not None}
    kind = data.kind or infer_kind(data.float_outputs)
    if data.labels is not None and kind.decisions(outputs) is not None:
        rows["accuracy"] = metrics.accuracy(outputs, data.labels, kind)
        rows["float_accuracy"] = metrics.accuracy(data.float_outputs, data.labels, kind)
        rows["host_accuracy"] = metrics.accuracy(host, data.labels, kind)
        rows["drop_points"] = (rows["float_accuracy"] - rows["accuracy"]) * 100
    rows["vs_float"] = metrics.drift(data.float_outputs, outputs, kind)
    rows["vs_host"] = {**metrics.drift(host, outputs, kind), "identical_fraction": _identical(host, outputs)}
    return rows


def _identical(reference: np.ndarray, candidate: np.ndarray) -> float:
    flat_ref, flat_cand = reference.reshape(len(reference), -1), candidate.reshape(len(candidate), -1)
    return float((flat_ref == flat_cand).all(axis=1).mean())


def _kernels(
    runner: Runner, artifact: BundleArtifact, model: bytes, feeds: dict[str, np.ndarray], threads: int
) -> dict[str, Any]:
    if artifact.runtime == "litert":
        return litert_kernels(runner.interpreter, artifact.int8)  # type: ignore[attr-defined]
    if artifact.runtime == "tflm":
        return tflm_kernels(runner.ops, artifact.int8)  # type: ignore[attr-defined]
    return onnxruntime_kernels(model, feeds, threads, artifact.int8)


def main() -> None:
    """`python -c 'from edgec.runtimes.harness_worker import main; main()' BUNDLE ARTIFACT SETTINGS OUT`."""
    bundle_path, name, settings_json, out = sys.argv[1:5]
    bundle = Bundle(Path(bundle_path))
    artifact = next(a for a in bundle.artifacts if a.name == name)
    try:
        result = measure(bundle, artifact, Settings(**json.loads(settings_json)))
    except Exception as exc:  # recorded per artifact: the other artifacts' results still count
        message = str(exc) if isinstance(exc, MissingRuntime) else f"{type(exc).__name__}: {exc}"
        result = {"artifact": name, "sha256": artifact.sha256, "error": message[:600]}
    Path(out).write_bytes(to_json(result))
