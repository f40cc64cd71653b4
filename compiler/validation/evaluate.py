"""Run the float baseline and each artifact in its real runtime and compare them on evaluation data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...runtimes import open_runner
from ...runtimes.runner import run_batched
from ..data import Dataset
from ..errors import ToolchainError
from ..progress import Progress
from . import metrics


@dataclass
class RunResult:
    """The first output of one model over the whole evaluation set, and how it was produced."""

    outputs: np.ndarray
    runtime: str
    version: str
    threads: int


@dataclass
class Evaluation:
    """One artifact's three rows: vs ground truth, the float model vs ground truth, and vs the float outputs."""

    artifact: str
    runtime: str
    runtime_version: str
    threads: int
    samples: int
    accuracy: float | None
    float_accuracy: float | None
    accuracy_drop_points: float | None
    drift: dict[str, float] = field(default_factory=dict)


def run_model(
    runtime: str, model: bytes | Path, data: Dataset, threads: int, progress: Progress, label: str
) -> RunResult:
    try:
        runner = open_runner(runtime, model, threads=threads)
        with progress.counter(f"evaluating {label}", len(data)) as counter:
            outputs = run_batched(runner, data.inputs, on_batch=counter.update)
    except Exception as exc:  # the artifact does not load or run: a converter produced something broken
        raise ToolchainError(f"{label} does not run in {runtime}: {type(exc).__name__}: {str(exc)[:300]}") from exc
    return RunResult(outputs[0], runner.runtime, runner.version, runner.threads)


def compare(name: str, baseline: RunResult, artifact: RunResult, labels: np.ndarray | None) -> Evaluation:
    accuracy = float_accuracy = drop = None
    if labels is not None:
        accuracy = metrics.accuracy(artifact.outputs, labels)
        float_accuracy = metrics.accuracy(baseline.outputs, labels)
        drop = round(100 * (float_accuracy - accuracy), 4)
    return Evaluation(
        name,
        artifact.runtime,
        artifact.version,
        artifact.threads,
        len(artifact.outputs),
        accuracy,
        float_accuracy,
        drop,
        metrics.drift(baseline.outputs, artifact.outputs),
    )
