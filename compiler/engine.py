"""The pass manager: checks that passes chain, then runs them with timing and the cache.

Passes own none of this. Every run leaves a PassRecord per pass so the report can say exactly what ran,
with which options, how long it took, and whether its output came from the cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .cache import PassCache, cache_key
from .errors import EdgecError, PipelineError, ToolchainError, clip
from .kinds import Model
from .passes.base import Context, Pass


@dataclass
class PassRecord:
    """What one pass did in one compile; the report's provenance is a list of these."""

    name: str
    config: dict[str, Any]
    seconds: float
    cached: bool
    modified: bool
    ops_before: dict[str, int] = field(default_factory=dict)
    ops_after: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def check_chain(start_kind: str, passes: list[Pass]) -> None:
    """Fail before anything runs when a pass cannot accept what the previous step produced."""
    produced, producer = start_kind, "the input model"
    for pass_ in passes:
        if pass_.accepts != produced:
            raise PipelineError(
                f"pass {pass_.name!r} accepts a {pass_.accepts} model but {producer} produces a {produced} model; "
                "reorder the passes (--pipeline) so each one gets the kind of model it accepts"
            )
        produced, producer = pass_.produces, f"pass {pass_.name!r}"


def run_passes(
    model: Model, passes: list[Pass], ctx: Context, cache: PassCache | None, outputs: list[Model] | None = None
) -> tuple[Model, list[PassRecord]]:
    """Run `passes` in order, reusing cached outputs; returns the final model and one record per pass.

    Cache keys carry the content hash of the data in `ctx` a pass reads (calibration, training). With
    `outputs`, every pass's output model is appended to it, so the drift each pass adds can be measured."""
    check_chain(model.kind, passes)
    calibration_hash = ctx.calibration.sha256 if ctx.calibration else None
    training_hash = ctx.training.sha256 if ctx.training else None
    records = []
    for pass_ in passes:
        key = cache_key(pass_, model, calibration_hash, training_hash) if cache else ""
        ops_before = _ops(model)
        start = time.perf_counter()
        hit = cache.load(key) if cache else None
        if hit is not None:
            output, details = hit
            modified = details.pop("_modified", True)
        else:
            try:
                with ctx.progress.stage(pass_.name):
                    result = pass_.run(model, ctx)
            except EdgecError:
                raise
            except Exception as exc:  # a converter crashed: say which pass, keep the cause chained
                raise ToolchainError(
                    f"pass {pass_.name!r} failed: {type(exc).__name__}: {clip(str(exc))}; re-run with --debug for "
                    "the converter's traceback, or change the pass's options in --pipeline"
                ) from exc
            output, modified, details = result.model, result.modified, result.details
            if cache:
                cache.store(key, output, {**details, "_modified": modified})
        records.append(
            PassRecord(
                pass_.name,
                pass_.config(),
                round(time.perf_counter() - start, 4),
                hit is not None,
                modified,
                ops_before,
                _ops(output),
                details,
            )
        )
        model = output
        if outputs is not None:
            outputs.append(output)
    return model, records


def _ops(model: Model) -> dict[str, int]:
    op_counts = getattr(model, "op_counts", None)
    return op_counts() if op_counts else {}
