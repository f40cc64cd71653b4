"""Pipelines as data: `cleanup,quantize{calibration=entropy,per_channel=true}`.

The same string works in a target profile, in edgec.toml and on the command line, so a pipeline can be
read, diffed and pasted between them. Values are typed later by the pass's own dataclass fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ConfigError

_NOT_IN_VALUES = "[]\"'"  # list or quoting syntax from another language: never part of a value here
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
        if any(step.name == name for step in steps):  # quantize,quantize would quantize a quantized model
            raise ConfigError(
                f"pipeline {text!r}: pass {name!r} appears twice; each pass runs once per pipeline, so give it once "
                "(with all its options in one {...})"
            )
        steps.append(PassSpec(name, _parse_options(body or "", text)))
        position = match.end()
    if not steps:
        raise ConfigError("pipeline is empty; give at least one pass, e.g. 'cleanup'")
    return steps


def _parse_options(body: str, text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in body.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ConfigError(f"pipeline {text!r}: option {item!r} must be key=value")
        if key in options:  # which one would win is a guess the user should not have to make
            raise ConfigError(f"pipeline {text!r}: option {key!r} is given twice; give it once")
        if any(mark in value for mark in _NOT_IN_VALUES):  # `exclude_nodes=[` was read as a node named "["
            raise ConfigError(
                f"pipeline {text!r}: option {item!r}: a value cannot hold brackets or quotes; write a list as "
                "a;b;c, e.g. exclude_nodes=conv1;fc"
            )
        options[key] = value
    return options
