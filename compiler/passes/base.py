"""The pass contract: a frozen dataclass whose fields are its configuration and one `run`.

A pass never reads files or the CLI; everything it may use arrives in the Context. The engine, not the
pass, owns timing, caching and kind checking, so a pass stays a small pure transformation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..kinds import Model

if TYPE_CHECKING:
    from ...targets.profile import TargetProfile
    from ..data import Dataset
    from ..progress import Progress


@dataclass
class Context:
    """What a pass may use: the target profile, calibration (and training) data, progress reporting, and a
    scratch folder.

    `scratch` (None without a cache) holds intermediate results a pass may reuse across runs, such as
    calibration ranges; entries must be written atomically and keyed by everything they depend on.
    """

    profile: TargetProfile
    calibration: Dataset | None
    progress: Progress
    scratch: Path | None = None
    training: Dataset | None = None  # labelled data for fine-tuning (--train), None without it


@dataclass
class PassResult:
    """A pass's output model, whether it changed anything, and facts worth reporting."""

    model: Model
    modified: bool
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pass:
    """Base of every pass. Subclasses are frozen dataclasses; their fields are the pass options."""

    name: ClassVar[str]
    accepts: ClassVar[str]
    produces: ClassVar[str]
    # Part of the cache key when True: the pass reads ctx.calibration.
    uses_calibration: ClassVar[bool] = False
    # Part of the cache key when True: the pass reads ctx.training.
    uses_training: ClassVar[bool] = False
    # Libraries whose versions change this pass's output; part of the cache key.
    libraries: ClassVar[tuple[str, ...]] = ()

    def run(self, model: Model, ctx: Context) -> PassResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The options as plain data, for reports and cache keys."""
        return dataclasses.asdict(self)

    def spec(self) -> str:
        """The pipeline spec string that rebuilds this pass, e.g. `quantize{calibration=entropy}`."""
        options = ",".join(f"{k}={_spec_value(v)}" for k, v in self.config().items())
        return f"{self.name}{{{options}}}" if options else self.name


def _spec_value(value: Any) -> str:
    """Option values as the spec parser reads them back: lists joined by ';', booleans lowercase."""
    if isinstance(value, tuple | list):
        return ";".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)
