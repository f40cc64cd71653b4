"""`--prune`: which pruning a build gets, as a pass spec with a fixed amount or `auto`.

    --prune unstructured:0.5        prune{sparsity=0.5}        (sparsegpt, layers of fan-in >= 32)
    --prune structured:0.4          prune-channels{ratio=0.4}  (L1, mean compensation, 16-channel tiles)
    --prune structured:auto         the largest ratio whose int8 drift stays within the budget
    --prune 'prune{method=wanda,sparsity=auto}'   any pass options, with the amount fixed or auto

The shorthands exist because a person thinks "half the weights" or "40% of the channels", not in pass names;
the spec form keeps every option reachable.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError
from .spec import PassSpec, parse_pipeline

KINDS = {"unstructured": "prune", "structured": "prune-channels"}
AMOUNT = {"prune": "sparsity", "prune-channels": "ratio"}
# The amounts an auto search tries, in order; it refines between the last that passed and the first that failed.
GRID = {"prune": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), "prune-channels": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)}


@dataclass(frozen=True)
class PruneRequest:
    text: str
    spec: PassSpec  # amount left out when auto
    auto: bool

    @property
    def amount_option(self) -> str:
        return AMOUNT[self.spec.name]

    @property
    def grid(self) -> tuple[float, ...]:
        return GRID[self.spec.name]

    def at(self, amount: float) -> PassSpec:
        return PassSpec(self.spec.name, {**self.spec.options, self.amount_option: f"{amount:g}"})

    def fixed(self) -> PassSpec:
        """The spec to plan with: the asked amount, or for auto the grid's first (checked before data exists)."""
        return self.at(self.grid[0]) if self.auto else self.spec


def parse_prune(text: str) -> PruneRequest:
    kind, sep, amount = text.partition(":")
    if sep and kind.strip() in KINDS:
        spec = PassSpec(KINDS[kind.strip()], {AMOUNT[KINDS[kind.strip()]]: amount.strip()})
    elif sep:
        raise ConfigError(
            f"--prune {text!r}: expected structured:AMOUNT or unstructured:AMOUNT (AMOUNT a share or auto)"
        )
    else:
        steps = parse_pipeline(text)
        if len(steps) != 1 or steps[0].name not in AMOUNT:
            raise ConfigError(
                f"--prune {text!r}: expected one prune or prune-channels pass, e.g. prune{{sparsity=0.5}}"
            )
        spec = steps[0]
    option = AMOUNT[spec.name]
    value = spec.options.get(option, "")
    if value == "auto":
        return PruneRequest(text, PassSpec(spec.name, {k: v for k, v in spec.options.items() if k != option}), True)
    try:
        share = float(value) if value else None
    except ValueError:
        share = -1.0
    if share is not None and not 0.0 < share < 1.0:
        raise ConfigError(
            f"--prune {text!r}: {option} must be a share between 0 and 1 (e.g. 0.5) or auto, got {value!r}"
        )
    return PruneRequest(text, spec, False)
