"""From a target profile plus user overrides to the explicit list of passes each artifact runs.

Profile decisions become explicit pass options here (the quantization scheme fills `quantize`'s and
`tflite`'s fields), so the recorded pipeline says everything and the passes never consult the profile for a
decision. A source with a native route to a format takes it: a Keras model reaches TensorFlow directly
(`keras-to-tf`) instead of through ONNX and onnx2tf.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..targets.profile import Artifact, TargetProfile
from .errors import ConfigError
from .passes.base import Pass
from .registry import build_pass
from .spec import PassSpec, parse_pipeline

# Source kind -> (the pass that replaces the ONNX route, the pass it replaces with everything before it).
NATIVE_ROUTES = {"keras": ("keras-to-tf", "onnx-to-tf")}
IMPORTS = {"torch": "torch-to-onnx", "keras": "keras-to-onnx"}


@dataclass(frozen=True)
class Overrides:
    """What the user asked for on top of the profile (flags or edgec.toml)."""

    pipeline: str | None = None
    quantize: bool = True
    calibration: str | None = None
    prune: PassSpec | None = None  # inserted after cleanup in every artifact's pipeline
    finetune: PassSpec | None = None  # inserted right after the prune pass (recovery on labelled data)


@dataclass(frozen=True)
class ArtifactPlan:
    artifact: Artifact
    passes: tuple[Pass, ...]
    from_source: bool = False  # True: starts from the source model (native route), not the ONNX baseline

    @property
    def precision(self) -> str:
        """'int8' for any 8-bit scheme (the report gives the exact dtypes), 'float16', else 'float32' (or 'dynamic')."""
        for p in self.passes:
            if p.name == "quantize":
                return "int8"
            if p.name == "fp16":
                return "float16"
            if p.name == "tflite":
                return getattr(p, "mode", "int8")
        return "float32"


def import_passes(source_kind: str) -> list[Pass]:
    """Conversion into ONNX, the form every baseline takes."""
    return [build_pass(PassSpec(IMPORTS[source_kind]))] if source_kind in IMPORTS else []


def plan_artifacts(profile: TargetProfile, overrides: Overrides, source_kind: str = "onnx") -> list[ArtifactPlan]:
    plans = []
    for artifact in profile.artifacts:
        steps = parse_pipeline(
            overrides.pipeline if overrides.pipeline and artifact.format == "onnx" else artifact.pipeline
        )
        if not overrides.quantize:
            steps = [s for s in steps if s.name != "quantize"]
        steps = [_with_profile_defaults(s, profile, overrides) for s in steps]
        if overrides.prune:
            steps = _with_pruning(steps, overrides.prune, overrides.finetune)
            from_source = False  # pruning edits the ONNX graph, so a native route would skip it
        else:
            steps, from_source = _native_route(steps, source_kind)
        if not steps:
            raise ConfigError(f"target {profile.id}: artifact {artifact.name!r} has an empty pipeline")
        passes = tuple(build_pass(s) for s in steps)
        if passes[-1].produces != artifact.format:
            raise ConfigError(
                f"target {profile.id}: artifact {artifact.name!r} is {artifact.format} but its "
                f"pipeline ends with {passes[-1].name!r}, which produces {passes[-1].produces}; end the pipeline "
                f"(--pipeline, for the onnx artifacts) with a pass that produces {artifact.format}"
            )
        plans.append(ArtifactPlan(artifact, passes, from_source))
    return plans


def _with_pruning(steps: list[PassSpec], prune: PassSpec, finetune: PassSpec | None) -> list[PassSpec]:
    """Prune right after cleanup: BatchNorm is folded by then (L1 sees the BN scale), and quantization and
    lowering see the pruned (and fine-tuned) weights."""
    if any(s.name in ("prune", "prune-channels") for s in steps):
        raise ConfigError("--prune: the pipeline already prunes; drop one of the two")
    after = next((i + 1 for i, s in enumerate(steps) if s.name == "cleanup"), 0)
    return [*steps[:after], prune, *([finetune] if finetune else []), *steps[after:]]


def _native_route(steps: list[PassSpec], source_kind: str) -> tuple[list[PassSpec], bool]:
    if source_kind not in NATIVE_ROUTES:
        return steps, False
    native, replaced = NATIVE_ROUTES[source_kind]
    position = next((i for i, s in enumerate(steps) if s.name == replaced), None)
    if position is None:
        return steps, False
    return [PassSpec(native, steps[position].options), *steps[position + 1 :]], True


def _with_profile_defaults(step: PassSpec, profile: TargetProfile, overrides: Overrides) -> PassSpec:
    scheme = profile.quantization
    if step.name == "tflite":
        mode = step.options.get("mode", "int8") if overrides.quantize else "float32"
        io = step.options.get("io", scheme.io) if mode == "int8" else "float32"
        return PassSpec(step.name, {**step.options, "mode": mode, "io": io})
    if step.name != "quantize":
        return step
    defaults = {
        "activations": scheme.activations,
        "weights": scheme.weights,
        "per_channel": str(scheme.per_channel).lower(),
        "reduce_range": str(scheme.reduce_range).lower(),
        "symmetric_activations": str(scheme.symmetric_activations).lower(),
        "calibration": overrides.calibration or scheme.calibration,
    }
    if overrides.calibration:
        return PassSpec(step.name, {**defaults, **step.options, "calibration": overrides.calibration})
    return PassSpec(step.name, {**defaults, **step.options})
