"""Run the float baseline and each artifact in its real runtime and compare them on evaluation data."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...runtimes import metrics, open_runner
from ...runtimes.layout import IoLayout
from ...runtimes.output_kinds import OutputKind, infer_kind
from ...runtimes.runner import run_judged
from ..data import Dataset
from ..errors import InputError, ToolchainError, clip
from ..progress import Progress
from ..quiet import captured_native_output
from .statistics import drift_statistics
from .user_metric import UserMetric


@dataclass
class RunResult:
    """The first output of one model over the whole evaluation set, and how it was produced."""

    outputs: np.ndarray
    runtime: str
    version: str
    threads: int
    # the float baseline's only: what its output means (declared, else inferred from these outputs); every
    # artifact compared with it is judged by this kind, and by the user's metric when there is one
    kind: OutputKind | None = None
    metric: UserMetric | None = None

    def output_kind(self) -> OutputKind:
        return self.kind or infer_kind(self.outputs)

    def first(self, count: int) -> RunResult:
        """The same run over its first `count` samples (an emulated run's bounded evaluation is compared so)."""
        return dataclasses.replace(self, outputs=self.outputs[:count])


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
    drift: dict[str, float | None] = field(default_factory=dict)  # agreement None: the output has no decisions
    # bootstrap intervals, per-class deltas, flips, worst samples (validation/statistics.py); None in search trials
    statistics: dict[str, Any] | None = None
    # whose kernels produced these numbers (validation/kernels.py KernelRoute.to_dict); None in search trials
    kernels: dict[str, Any] | None = None
    # the build host's own kernels, when they are not the ones above: their drift, and whether it diverges
    host_kernels: dict[str, Any] | None = None
    # what the output means and so how agreement and accuracy were decided (output_kinds.py)
    output_kind: dict[str, Any] = field(default_factory=lambda: {"name": "classes"})
    # --metric: {"name": function name, "value": its number for this artifact} (user_metric.py)
    user_metric: dict[str, Any] | None = None

    @property
    def sqnr_db(self) -> float:
        """Output SQNR vs float: measured for every kind, the number searches rank candidates by."""
        return float(self.drift["sqnr_db"])  # type: ignore[arg-type]  # drift's only optional entry is agreement


def run_model(
    runtime: str,
    model: bytes | Path,
    data: Dataset,
    threads: int,
    progress: Progress,
    label: str,
    layout: IoLayout | None = None,
) -> RunResult:
    """Run every sample; with a layout, each input is fed in the artifact's own layout and under its own name,
    and the judged output is brought back to the baseline's layout for comparison. A sequence with recurrent
    states is streamed, one step at a time on the model's own states, as the device runs it."""
    try:
        with captured_native_output():  # LiteRT announces its XNNPACK delegate on stderr
            runner = open_runner(runtime, model, threads=threads)
        with progress.counter(f"evaluating {label}", len(data)) as counter:
            judged = run_judged(runner, data.inputs, data.states, layout, on_rows=counter.update)
    except Exception as exc:  # the artifact does not load or run: a converter produced something broken
        raise ToolchainError(f"{label} does not run in {runtime}: {type(exc).__name__}: {clip(str(exc))}") from exc
    return RunResult(judged, runner.runtime, runner.version, runner.threads)


def settle_output_kind(reference: RunResult, data: Dataset, declared: str | None, metric: str | None = None) -> None:
    """Decide what the float baseline's output means (declared, else inferred from its outputs) and the user's
    metric (resolved now: a typo fails before any pass runs) before any artifact is judged, and refuse labels
    that cannot be its ground truth: labels no class can match made both accuracies 0% and a PASS that
    measured nothing."""
    reference.kind = infer_kind(reference.outputs, declared)
    reference.metric = UserMetric(metric) if metric else None
    if reference.metric is not None:
        reference.metric.check()
    if data.labels is not None and (problem := reference.kind.label_problem(data.labels, reference.outputs)):
        kind = reference.kind.describe()
        raise InputError(f"{data.source}: labels do not fit the model's {kind} output: {problem}")


def cross_format(a: tuple[str, RunResult], b: tuple[str, RunResult], kind: OutputKind) -> dict[str, Any]:
    """Two artifacts of one model in two formats/runtimes against each other (ONNX-int8 vs TFLite-int8), their
    decisions taken as the float baseline's `kind` says."""
    (name_a, run_a), (name_b, run_b) = a, b
    shared = min(len(run_a.outputs), len(run_b.outputs))  # an emulated run may cover only the first samples
    return {"pair": [name_a, name_b], **metrics.drift(run_a.outputs[:shared], run_b.outputs[:shared], kind)}


def compare(
    name: str, baseline: RunResult, artifact: RunResult, labels: np.ndarray | None, statistics: bool = False
) -> Evaluation:
    """The three rows; with `statistics`, also how sure they are and which samples make them (the final
    validation wants this; a search's trials only need the gate's numbers)."""
    kind = baseline.output_kind()
    accuracy = float_accuracy = drop = None
    if labels is not None:
        accuracy = metrics.accuracy(artifact.outputs, labels, kind)
        float_accuracy = metrics.accuracy(baseline.outputs, labels, kind)
        if accuracy is not None and float_accuracy is not None:
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
        metrics.drift(baseline.outputs, artifact.outputs, kind),
        drift_statistics(baseline.outputs, artifact.outputs, labels, kind) if statistics else None,
        output_kind=kind.to_dict(),
        user_metric=_user_metric(baseline, artifact, labels),
    )


def _user_metric(baseline: RunResult, artifact: RunResult, labels: np.ndarray | None) -> dict[str, Any] | None:
    if baseline.metric is None:
        return None
    value = baseline.metric.value(baseline.outputs, artifact.outputs, labels)
    return {"name": baseline.metric.name, "spec": baseline.metric.spec, "value": value}
