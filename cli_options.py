"""Options several commands share (compile, inspect, sweep)."""

from __future__ import annotations

import click


def parse_shapes(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    try:
        return tuple(tuple(int(d) for d in value.split(",")) for value in values)
    except ValueError:
        raise click.BadParameter(f"{values!r}: expected comma-separated integers such as 1,3,224,224") from None


input_shape_option = click.option(
    "--input-shape",
    "input_shapes",
    multiple=True,
    callback=parse_shapes,
    help="Input shape for torch modules, e.g. 1,3,224,224 (repeat per input).",
)

cache_dir_option = click.option(
    "--cache-dir", help="Pass cache: a folder or an fsspec URL every worker reaches [~/.cache/edgec]."
)
