"""Hard target constraints (op set, static shapes, tensor rank) checked on TFLite artifacts; RAM and flash
are budgets of the cost model (cost/analysis.py), for every format.

A violation is not a budget to trade off: the artifact would not run (or not on the accelerator), so the
build is refused before anything is written, and the message names every offending op or tensor.
"""

from __future__ import annotations

from ..targets.profile import Constraints
from .errors import EdgecError
from .kinds_tf import TfliteModel
from .tflite_inspect import TfliteSummary


class ConstraintError(EdgecError):
    """The artifact cannot run on the target as built; nothing is written."""

    exit_code = 5


def violations(summary: TfliteSummary, rules: Constraints) -> list[str]:
    found = []
    if rules.allowed_ops:
        allowed = set(rules.allowed_ops)
        found += [
            f"op #{op.index} {op.name} is not in the {rules.op_set or 'allowed'} op set"
            for op in summary.ops
            if op.name not in allowed
        ]
    if rules.static_shapes:
        found += [
            f"input {t.name} has a dynamic shape {list(t.signature)}; static shapes are required"
            for t in summary.inputs
            if any(d < 0 for d in t.signature)
        ]
    if rules.max_tensor_rank:
        found += [
            f"tensor {t.name} has rank {len(t.shape)} {list(t.shape)}; at most {rules.max_tensor_rank} "
            f"({rules.max_tensor_rank - 1} dimensions besides the batch)"
            for t in summary.tensors.values()
            if len(t.shape) > rules.max_tensor_rank
        ]
    return found


def check_tflite(model: TfliteModel, rules: Constraints, artifact: str, target: str) -> dict[str, object]:
    """Raise ConstraintError listing every violation; return the facts checked, for the report."""
    summary = model.summary
    found = violations(summary, rules)
    if found:
        raise ConstraintError(
            f"{artifact} cannot run on {target} ({len(found)} violation(s)): " + "; ".join(found) + "; nothing was "
            "written: change the model so these go away, or pick another --target"
        )
    return {
        "ops": sorted(summary.op_counts),
        "compile_command": rules.compile_command.replace("{artifact}", artifact),
    }
