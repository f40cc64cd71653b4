"""From a target profile plus user overrides to the explicit list of passes each artifact runs.

Profile decisions become explicit pass options here (the quantization scheme fills `quantize`'s fields),
so the recorded pipeline says everything and the passes never consult the profile for a decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..targets.profile import Artifact, TargetProfile
from .errors import ConfigError
from .passes.base import Pass
from .registry import build_pass
from .spec import PassSpec, parse_pipeline


@dataclass(frozen=True)
class Overrides:
    """What the user asked for on top of the profile (flags or edgec.toml)."""

    pipeline: str | None = None
    quantize: bool = True
    calibration: str | None = None


@dataclass(frozen=True)
class ArtifactPlan:
    artifact: Artifact
    passes: tuple[Pass, ...]

    @property
    def precision(self) -> str:
        """'int8' for any 8-bit scheme (the report gives the exact dtypes), else 'float32'."""
        return "int8" if any(p.name == "quantize" for p in self.passes) else "float32"


def import_passes(source_kind: str) -> list[Pass]:
    """Conversion into ONNX, the form every baseline takes."""
    return [build_pass(PassSpec("torch-to-onnx"))] if source_kind == "torch" else []


def plan_artifacts(profile: TargetProfile, overrides: Overrides) -> list[ArtifactPlan]:
    plans = []
    for artifact in profile.artifacts:
        steps = parse_pipeline(overrides.pipeline or artifact.pipeline)
        if not overrides.quantize:
            steps = [s for s in steps if s.name != "quantize"]
        steps = [_with_profile_defaults(s, profile, overrides) for s in steps]
        if not steps:
            raise ConfigError(f"target {profile.id}: artifact {artifact.name!r} has an empty pipeline")
        plans.append(ArtifactPlan(artifact, tuple(build_pass(s) for s in steps)))
    return plans


def _with_profile_defaults(step: PassSpec, profile: TargetProfile, overrides: Overrides) -> PassSpec:
    if step.name != "quantize":
        return step
    scheme = profile.quantization
    defaults = {
        "activations": scheme.activations,
        "weights": scheme.weights,
        "per_channel": str(scheme.per_channel).lower(),
        "reduce_range": str(scheme.reduce_range).lower(),
        "calibration": overrides.calibration or scheme.calibration,
    }
    if overrides.calibration:
        return PassSpec(step.name, {**defaults, **step.options, "calibration": overrides.calibration})
    return PassSpec(step.name, {**defaults, **step.options})
