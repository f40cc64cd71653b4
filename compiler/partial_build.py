"""Build each artifact on its own, so one artifact's lowering failure never discards another's.

Three of five third-party models tried as a new user would failed in onnx2tf; each time the valid int8 ONNX
artifact was thrown away with the TFLite one. Here each plan runs separately: a converter failure
(ToolchainError) becomes a failed entry with the pass, the tool's message and what to try, the other artifacts
are validated and written as usual, and the gate fails (exit non-zero) on the artifact that is missing. Bad
input (InputError and the like) still stops the compile: it would fail every artifact alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .cache import PassCache
from .engine import PassRecord, run_passes
from .errors import ToolchainError
from .kinds import Model
from .passes.base import Context
from .pipeline import ArtifactPlan
from .validation.gate import GateCheck

Built = list[tuple[ArtifactPlan, Model, list[PassRecord]]]

BUILT_METRIC = "artifact_built"


@dataclass(frozen=True)
class ArtifactFailure:
    artifact: str
    file: str
    pipeline: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact,
            "file": self.file,
            "pipeline": self.pipeline,
            "message": self.message,
            "try": _advice(self),
        }

    def check(self) -> GateCheck:
        return GateCheck(self.artifact, BUILT_METRIC, 0.0, 1.0, False)


def build_each(
    plans: list[ArtifactPlan],
    starts: dict[str, Model],
    ctx: Context,
    cache: PassCache | None,
    kept: dict[str, list[Model]],
    model_name: str,
) -> tuple[Built, list[ArtifactFailure]]:
    """Every plan's pipeline; the ones a converter could not build come back as failures. When none could be
    built there is nothing to validate or write, so the first failure is raised as it was."""
    built: Built = []
    failures: list[ArtifactFailure] = []
    first_error: ToolchainError | None = None
    for plan in plans:
        name = plan.artifact.name
        try:
            built.append((plan, *run_passes(starts[name], list(plan.passes), ctx, cache, kept[name])))
        except ToolchainError as exc:
            first_error = first_error or exc
            file = f"{model_name}.{plan.precision}.{plan.artifact.format}"
            pipeline = ",".join(p.name for p in plan.passes)
            failures.append(ArtifactFailure(name, file, pipeline, str(exc)))
    if not built and first_error is not None:
        raise first_error
    return built, failures


def _advice(failure: ArtifactFailure) -> str:
    if failure.file.endswith(".tflite"):
        return (
            "the other artifacts were built and validated; for the TFLite lowering, export the model with fixed "
            "input shapes (--input-shape for torch sources) or express the op the message names with simpler ops"
        )
    return "the other artifacts were built and validated; the message above names the pass and the tool"
