"""Options several commands share (compile, inspect, sweep)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


class Budget(click.types.FloatParamType):
    """A gate's budget: a finite number >= 0 (and <= `upper` when given). NaN or infinity would be written into
    a report that fails its own schema, and a negative drop gives a gate no build can pass."""

    def __init__(self, upper: float | None = None) -> None:
        self.upper = upper

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = super().convert(value, param, ctx)
        bounds = "between 0 and 1" if self.upper == 1 else ">= 0"
        if not math.isfinite(number) or number < 0 or (self.upper is not None and number > self.upper):
            self.fail(f"{value!r}: must be a finite number {bounds}", param, ctx)
        return float(number)


class OutputPath(click.Path):
    """An output path that is not empty: `-o ""` would be read as the current folder (Path("") is ".")."""

    def __init__(self) -> None:
        super().__init__(path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("is empty; give the folder to write, e.g. -o build/model-rpi4", param, ctx)
        return super().convert(value, param, ctx)


def parse_shapes(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    try:
        return tuple(tuple(int(d) for d in value.split(",")) for value in values)
    except ValueError:
        raise click.BadParameter(f"{values!r}: expected comma-separated integers such as 1,3,224,224") from None


def _pairs(values: tuple[str, ...], example: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        left, sep, right = value.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise click.BadParameter(f"{value!r}: give it as {example}")
        pairs.append((left.strip(), right.strip()))
    return tuple(pairs)


def parse_states(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """`--state OUTPUT=INPUT`, repeated: the recurrent states a streaming model feeds back."""
    return _pairs(values, "OUTPUT=INPUT, e.g. --state h_next=h (the output fed back)")


def parse_constants(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """`--input NAME=VALUE`, repeated: inputs frozen to a value (constant_inputs.py checks name, shape, type)."""
    return _pairs(values, "NAME=VALUE, e.g. --input sr=16000")


input_shape_option = click.option(
    "--input-shape",
    "input_shapes",
    multiple=True,
    callback=parse_shapes,
    help="Input shape for torch modules, e.g. 1,3,224,224 (repeat per input).",
)


def executor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--executor, --jobs, --address: where a sweep's compiles, or a search's candidates, run."""
    for option in reversed(
        (
            click.option(
                "--executor",
                type=click.Choice(["local", "ray"]),
                default="local",
                show_default=True,
                help="Where the work runs: local processes, or a Ray cluster (pip install 'edgec[ray]').",
            ),
            click.option(
                "--jobs",
                "-j",
                type=click.IntRange(min=1),
                help="How many at a time: a sweep's compiles, or a search's candidates [local: 1; ray: 16].",
            ),
            click.option("--address", help="Ray executor: the cluster, host:6379, ray://host:10001 or auto [auto]."),
        )
    ):
        command = option(command)
    return command


cache_dir_option = click.option(
    "--cache-dir", help="Pass cache: a folder or an fsspec URL every worker reaches [~/.cache/edgec]."
)
