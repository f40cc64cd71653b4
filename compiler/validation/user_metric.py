"""`--metric package.module:function`: the user's own measure of an artifact, gated as the primary metric.

Top-1 and agreement are proxies. A detector's owner cares about F1 at their threshold, a recognizer's about
word error rate, a ranking model's about recall@k; only they can write it. The function is called as
`function(float_outputs, artifact_outputs, labels)` (numpy arrays over the evaluation set, labels None when
the data has none) and returns one number, higher is better; `--metric-min` is its floor. It replaces the
accuracy/agreement check; the SQNR floor still holds under it. Naming a module runs its code, as naming a
factory does: this is an explicit flag, never a default.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError, clip


@dataclass(frozen=True)
class UserMetric:
    """A `module:function` spec; resolved on use, so it travels to search workers by name, not by pickle."""

    spec: str

    @property
    def name(self) -> str:
        return self.spec.rpartition(":")[2]

    def check(self) -> None:
        """Resolve the function now: a typo fails before anything is built, in one line."""
        _function(self.spec)

    def value(self, reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray | None) -> float:
        function = _function(self.spec)
        try:
            result = float(function(reference, candidate, labels))
        except Exception as exc:  # the user's code: its failure is theirs, reported as such
            raise InputError(f"--metric {self.spec} raised {type(exc).__name__}: {clip(str(exc), 200)}") from exc
        if not math.isfinite(result):
            raise InputError(f"--metric {self.spec} returned {result}; it must return a finite number")
        return result


_FUNCTIONS: dict[str, Any] = {}


def _function(spec: str) -> Any:
    if spec not in _FUNCTIONS:
        module_name, sep, attribute = spec.partition(":")
        if not sep or not module_name or not attribute:
            raise InputError(f"--metric {spec!r}: give package.module:function")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InputError(f"--metric {spec}: cannot import {module_name} ({exc}); is it on PYTHONPATH?") from None
        function = getattr(module, attribute, None)
        if not callable(function):
            raise InputError(f"--metric {spec}: {module_name} has no function {attribute!r}")
        _FUNCTIONS[spec] = function
    return _FUNCTIONS[spec]
