"""Which pass cost how much: the model after each pass that changed it, evaluated like the artifact itself.

Pruning, fine-tuning, quantization and lowering each move the outputs, and the final drop alone does not say
which one to fix. Each stage runs in the runtime of its kind (ONNX in ONNX Runtime, TFLite in LiteRT) on the
same evaluation data and is compared with the float baseline; its `step` is what it added to the stage before.
A TensorFlow SavedModel runs in no device runtime, so an int8 TFLite conversion is split in two: the same
conversion in float32 (the lowering's own error), then the int8 artifact (quantization on top of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine import PassRecord, run_passes
from ..kinds import Model
from ..passes.base import Context, Pass
from ..passes.tflite import Tflite
from .evaluate import Evaluation, RunResult, compare, run_model

if TYPE_CHECKING:
    from ..cache import PassCache
    from ..data import Dataset

RUNTIMES = {"onnx": "onnxruntime", "tflite": "litert"}
FLOAT_LOWERING = Tflite(mode="float32")


@dataclass
class Stages:
    """One artifact's pipeline with every pass's output model and record."""

    start: Model
    passes: tuple[Pass, ...]
    outputs: list[Model]
    records: list[PassRecord]

    def before(self, index: int) -> Model:
        return self.outputs[index - 1] if index else self.start


def pass_drift(
    stages: Stages,
    final: Evaluation,
    reference: RunResult,
    data: Dataset,
    threads: int,
    ctx: Context,
    cache: PassCache | None,
    seen: dict[str, Evaluation],
) -> tuple[list[dict[str, Any]], Model | None]:
    """One row per stage (the last is the artifact, whose evaluation is `final`); also the float32 lowering
    of an int8 TFLite artifact, which the per-layer trace compares against (None for other artifacts).

    `seen` holds evaluations by model fingerprint across a build's artifacts: their pipelines share a prefix
    (cleanup, prune, fine-tune), and a shared stage is evaluated once."""
    evaluated: list[tuple[str, str, Evaluation]] = []
    lowered = None
    last = len(stages.passes) - 1
    for index, (pass_, model, record) in enumerate(zip(stages.passes, stages.outputs, stages.records, strict=True)):
        if isinstance(pass_, Tflite) and pass_.mode == "int8":
            lowered, _ = run_passes(stages.before(index), [FLOAT_LOWERING], ctx, cache)
            alone = _evaluate(lowered, reference, data, threads, ctx, seen)
            evaluated.append(("lowering (tflite float32)", FLOAT_LOWERING.spec(), alone))
        if index == last:
            evaluated.append((_stage(pass_), pass_.spec(), final))
        elif record.modified and model.kind in RUNTIMES:
            evaluated.append((_stage(pass_), pass_.spec(), _evaluate(model, reference, data, threads, ctx, seen)))
    return _rows(evaluated), lowered


def _evaluate(
    model: Model, reference: RunResult, data: Dataset, threads: int, ctx: Context, seen: dict[str, Evaluation]
) -> Evaluation:
    key = model.fingerprint
    if key not in seen:
        label, layout = f"{model.kind} stage", getattr(model, "layout", None)
        run = run_model(RUNTIMES[model.kind], model.artifact_bytes(), data, threads, ctx.progress, label, layout)
        seen[key] = compare(label, reference, run, data.labels)
    return seen[key]


def _stage(pass_: Pass) -> str:
    return f"tflite {pass_.mode}" if isinstance(pass_, Tflite) else pass_.name


def _rows(evaluated: list[tuple[str, str, Evaluation]]) -> list[dict[str, Any]]:
    """Cumulative drop and the step each stage added; without labels the steps are in agreement instead."""
    rows, previous_drop, previous_agreement = [], 0.0, 1.0
    for stage, spec, evaluation in evaluated:
        drop, agreement = evaluation.accuracy_drop_points, evaluation.drift["agreement"]
        rows.append(
            {
                "stage": stage,
                "pipeline": spec,
                "runtime": f"{evaluation.runtime} {evaluation.runtime_version}",
                "accuracy": evaluation.accuracy,
                "drop_points": drop,
                "step_points": None if drop is None else round(drop - previous_drop, 4),
                "agreement": agreement,
                "agreement_step": None if agreement is None else round(agreement - previous_agreement, 6),
                "sqnr_db": evaluation.drift["sqnr_db"],
            }
        )
        previous_drop, previous_agreement = drop or 0.0, 1.0 if agreement is None else agreement
    return rows
