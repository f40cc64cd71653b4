"""What a frontend is asked to load and what it says about what it loaded.

In a module of their own, not in the package's __init__: __init__ dispatches to the frontends, and a frontend
that imported these from __init__ would import its own dispatcher (an import cycle through the package).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SourceRequest:
    """Everything a frontend may need besides the source itself."""

    source: str | None
    input_shapes: tuple[tuple[int, ...], ...] = ()
    input_names: tuple[str, ...] = ()
    weights: Path | None = None
    trust_pickle: bool = False


@dataclass(frozen=True)
class SourceInfo:
    """Provenance of the imported model for the report and manifest."""

    name: str
    kind: str
    location: str
    sha256: str
    details: dict[str, str] = field(default_factory=dict)
