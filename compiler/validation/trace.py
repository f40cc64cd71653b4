"""An artifact's drift traced to its cause: the drift each pass added, and the layer where int8 diverges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..engine import PassRecord, run_passes
from ..kinds import Model
from ..passes.base import Context
from .evaluate import Evaluation, RunResult
from .layer_trace import layer_trace
from .pass_drift import Stages, pass_drift

if TYPE_CHECKING:
    from ..cache import PassCache
    from ..data import Dataset
    from ..pipeline import ArtifactPlan


@dataclass
class Tracer:
    """What tracing shares across a build's artifacts: passes' context and cache, the float baseline's
    outputs and the evaluation data."""

    ctx: Context
    cache: PassCache | None
    reference: RunResult
    data: Dataset
    threads: int
    seen: dict[str, Evaluation] = field(default_factory=dict)  # stage evaluations by model fingerprint

    def artifact(
        self,
        plan: ArtifactPlan,
        start: Model,
        model: Model,
        records: list[PassRecord],
        kept: dict[str, list[Model]],
        final: Evaluation,
    ) -> dict[str, Any]:
        """`kept` holds the pass outputs saved while each artifact was built; when they belong to another model
        (the fallback search replaced it) the pipeline runs again, from the cache where it has the steps."""
        outputs = kept.get(plan.artifact.name, [])
        if not outputs or outputs[-1] is not model:
            outputs = []
            run_passes(start, list(plan.passes), self.ctx, self.cache, outputs)
        stages = Stages(start, plan.passes, outputs, records)
        rows, lowered = pass_drift(
            stages, final, self.reference, self.data, self.threads, self.ctx, self.cache, self.seen
        )
        quantize = next((i for i, p in enumerate(plan.passes) if p.name == "quantize"), None)
        layers = None
        if quantize is not None:
            before = stages.before(quantize)
            layers = {"against": "the model before quantize", **layer_trace(before, outputs[quantize], self.data)}
        elif lowered is not None:
            layers = {"against": "the float32 TFLite conversion", **layer_trace(lowered, model, self.data)}
        return {"passes": rows, "layers": layers}
