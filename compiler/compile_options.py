"""`CompileOptions`: everything a compile can be told, in a module of its own below the compile flow.

`api.compile` reads them, and so do the steps it calls (data loading, validation, search): they import the
options from here, not from `api`, so no step imports the flow that calls it. `api` re-exports the class,
which stays the public name (`from edgec.compiler.api import CompileOptions`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..runtimes.output_kinds import KIND_NAMES
from .errors import ConfigError
from .pipeline import Overrides
from .prune_request import PruneRequest
from .search import SearchLimits


@dataclass(frozen=True)
class CompileOptions:
    """Everything a compile can be told; the CLI maps its flags onto these fields one to one."""

    source: str | None = None
    target: str = "host-x86"
    calib: Path | None = None
    eval: Path | None = None
    output: Path | None = None
    force: bool = False
    input_shapes: tuple[tuple[int, ...], ...] = ()
    input_names: tuple[str, ...] = ()
    weights: Path | None = None
    trust_pickle: bool = False
    overrides: Overrides = field(default_factory=Overrides)
    max_drop: float | None = None
    min_agreement: float | None = None
    min_sqnr_db: float | None = None  # output SQNR floor in dB [the profile's]
    output_kind: str | None = None  # what the first output means (output_kinds.KIND_NAMES) [inferred from it]
    # recurrent states, (output, input) by name: the model is evaluated streaming (streaming.py)
    states: tuple[tuple[str, str], ...] = ()
    # inputs frozen to a value in every artifact, (name, value) (constant_inputs.py), e.g. a sample rate
    constants: tuple[tuple[str, str], ...] = ()
    metric: str | None = None  # package.module:function, the gate's primary metric (validation/user_metric.py)
    metric_min: float | None = None  # its floor; required with `metric`
    cache_dir: str | Path | None = None  # a folder, or an fsspec URL (cache_store.py)
    use_cache: bool = True
    holdout: float = 0.2
    progress: bool | None = None
    search: bool = True
    # validate aarch64 targets' artifacts on their emulated core: None when the emulator is set up
    # (and EDGEC_EMULATION is not "off"), True insists, False keeps every run on this host
    emulate: bool | None = None
    search_limits: SearchLimits = field(default_factory=SearchLimits)
    executor: str = "local"  # where search candidates are built and run: "local" processes or "ray"
    jobs: int | None = None  # candidates at a time [local: 1, so in this process; ray: RAY_DEFAULT_WIDTH]
    address: str | None = None  # the Ray cluster [auto]
    prune: PruneRequest | None = None
    train: Path | None = None  # labelled data for fine-tuning after pruning
    recover_epochs: int = 0
    gate_on: str = "point"  # or "bound": the upper end of the drop's 95% bootstrap interval
    baseline: Path | None = None  # a previous build (or its report.json) this one must not regress from
    promoted_baseline: bool = True  # without `baseline`: the build promoted for this target and model, if any
    project: Path | None = None  # whose build registry records the build [EDGEC_PROJECT, else the current folder]
    baseline_max_drop: float = 0.0  # top-1 points an artifact may lose against it, beyond noise
    baseline_max_latency_increase: float | None = None  # percent the host median may rise, beyond noise

    def __post_init__(self) -> None:
        """Budgets are finite and >= 0 (agreement a fraction in [0, 1]): NaN or infinity would be written into a
        report that fails its own schema, and a negative budget gives a gate no build can pass."""
        if (self.metric is None) != (self.metric_min is None):
            raise ConfigError("--metric and --metric-min go together: the function, and the floor its value must reach")
        if self.metric_min is not None and not math.isfinite(self.metric_min):
            raise ConfigError(f"metric-min {self.metric_min!r}: must be a finite number")
        if self.output_kind is not None and self.output_kind not in KIND_NAMES:
            raise ConfigError(f"output-kind {self.output_kind!r}: use one of {', '.join(KIND_NAMES)}")
        budgets = (
            ("max_drop", math.inf),
            ("baseline_max_drop", math.inf),
            ("min_agreement", 1.0),
            ("min_sqnr_db", math.inf),
        )
        for name, upper in budgets:
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0 <= value <= upper):
                bounds = "between 0 and 1" if upper == 1.0 else ">= 0"
                raise ConfigError(f"{name.replace('_', '-')} {value!r}: must be a finite number {bounds}")
