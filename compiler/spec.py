"""Pipelines as data: `cleanup,quantize{calibration=entropy,per_channel=true}`.

The same string works in a target profile, in edgec.toml and on the command line, so a pipeline can be
read, diffed and pasted between them. Values are typed later by the pass's own dataclass fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ConfigError

_STEP = re.compile(r"\s*([a-z][a-z0-9-]*)\s*(?:\{([^{}]*)\})?\s*(?:,|$)")


@dataclass(frozen=True)
class PassSpec:
    """One pipeline step as written by a person: a pass name and raw string options."""

    name: str
    options: dict[str, str] = field(default_factory=dict)


def parse_pipeline(text: str) -> list[PassSpec]:
    """Parse a comma-separated pipeline spec; raise ConfigError pointing at the bad position."""
    steps: list[PassSpec] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _STEP.match(text, position)
        if not match or match.end() == position:
            raise ConfigError(
                f"pipeline {text!r}: cannot parse at position {position} ({text[position:]!r}); "
                "expected name or name{key=value,...}"
            )
        name, body = match.group(1), match.group(2)
        steps.append(PassSpec(name, _parse_options(body or "", text)))
        position = match.end()
    if not steps:
        raise ConfigError("pipeline is empty; give at least one pass, e.g. 'cleanup'")
    return steps


def _parse_options(body: str, text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in body.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"pipeline {text!r}: option {item!r} must be key=value")
        options[key.strip()] = value.strip()
    return options
