"""Will each artifact run on the target, and fit it? Checked on the built artifacts, before validation.

Hard constraints (op set, static shapes, tensor rank) and the RAM and flash budgets refuse the build with
every violation named, because an artifact that breaks one does not run on the device at all. The latency
budget is an estimate, so missing it fails the gate instead (the build is written, marked failed).
"""

from __future__ import annotations

import math
from typing import Any

from ..targets.profile import TargetProfile
from .constraints import ConstraintError, check_tflite
from .cost.analysis import CostReport, analyze
from .engine import PassRecord
from .kinds import KerasModel, Model, OnnxModel, TorchModel
from .pipeline import ArtifactPlan
from .validation.gate import GateCheck

Built = list[tuple[ArtifactPlan, Model, list[PassRecord]]]


class BudgetError(ConstraintError):
    """An artifact needs more RAM or flash than the target has; nothing is written."""


def check_weights_fit(model: Model, profile: TargetProfile, source: str) -> None:
    """Refuse, before any conversion, a model whose weights cannot fit the target's flash even as int8.

    A 20000x20000 Gemm for stm32h7 used to run for minutes (serializing 1.5 GB to fingerprint it, a 1.5 GB cache
    entry left behind) before the cost model said what one count says at once: one byte per weight is the
    least any int8 artifact needs."""
    flash_kb = profile.constraints.flash_kb
    weights = _weight_count(model)
    if not flash_kb or weights is None or weights <= flash_kb * 1024:
        return
    raise BudgetError(
        f"{source} has {weights:,} weights: at least {weights / 1024:,.0f} KB as int8, over {profile.id}'s "
        f"{flash_kb:,} KB flash budget; it needs a model at least {weights / (flash_kb * 1024):.1f}x smaller "
        "(prune, or a smaller architecture)"
    )


def _weight_count(model: Model) -> int | None:
    """Parameters of the source model, counted without serializing it; None when the kind cannot say."""
    if isinstance(model, OnnxModel):
        return sum(math.prod(init.dims) for init in model.proto.graph.initializer)
    if isinstance(model, TorchModel):
        state = model.module.state_dict() if hasattr(model.module, "state_dict") else {}
        return sum(int(value.numel()) for value in state.values())
    if isinstance(model, KerasModel):
        return int(model.model.count_params())
    return None


def check_artifacts(
    profile: TargetProfile, model_name: str, built: Built
) -> tuple[dict[str, Any], dict[str, CostReport]]:
    """The constraint facts of TFLite artifacts and every artifact's cost report, keyed by artifact name."""
    from .kinds_tf import TfliteModel

    constraints, costs = {}, {}
    for plan, artifact, _ in built:
        file = f"{model_name}.{plan.precision}.{plan.artifact.format}"
        cost = analyze(artifact, profile, file)
        if isinstance(artifact, TfliteModel):
            constraints[plan.artifact.name] = check_tflite(artifact, profile.constraints, file, profile.id)
        elif profile.constraints.compile_command:  # e.g. trtexec: the engine is built on the device
            command = profile.constraints.compile_command.replace("{artifact}", file)
            constraints[plan.artifact.name] = {"ops": sorted(cost.graph.ops), "compile_command": command}
        if not cost.fits:
            raise budget_error(cost, profile.id)
        costs[plan.artifact.name] = cost
    return constraints, costs


def budget_error(cost: CostReport, target: str) -> BudgetError:
    """Every RAM and flash budget the artifact misses, with the numbers and what to try (compile and inspect
    refuse alike)."""
    missed = [b.describe() for b in cost.budgets if not b.fits and b.resource != "latency"]
    return BudgetError(f"{cost.artifact} does not fit {target}: " + " | ".join(missed))


def latency_checks(costs: dict[str, CostReport]) -> list[GateCheck]:
    """The estimated latency against the profile's budget, one check per artifact that has both."""
    checks = []
    for cost in costs.values():
        budget = next((b for b in cost.budgets if b.resource == "latency" and b.available is not None), None)
        if budget is not None:
            assert budget.available is not None
            checks.append(
                GateCheck(cost.artifact, "estimated_latency_ms", budget.needed, budget.available, budget.fits)
            )
    return checks
