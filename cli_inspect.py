"""`edgec inspect`: what a model or artifact needs on a target (MACs, flash, RAM, latency), without compiling.

Kept apart from cli.py only for size; like it, parse, call the API, print.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .cli_options import input_shape_option


@click.command("inspect")
@click.argument("source", required=False)
@click.option("--target", "-t", default="host-x86", show_default=True, help="Target profile id or a .toml file.")
@input_shape_option
@click.option("--weights", type=click.Path(path_type=Path), help="state_dict for a factory (weights_only load).")
@click.option("--trust-pickle", is_flag=True, help="Allow loading pickled nn.Modules (runs their code).")
@click.option("--layers", "layer_count", type=int, default=10, show_default=True, help="Costliest layers to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON (the report's cost entry).")
def inspect_command(
    source: str | None,
    target: str,
    input_shapes: tuple[tuple[int, ...], ...],
    weights: Path | None,
    trust_pickle: bool,
    layer_count: int,
    as_json: bool,
) -> None:
    """Analyse SOURCE (a model, an .onnx or a .tflite; the demo without one) on a target's budgets.

    Exits 5 when it does not fit the target's RAM or flash, like a compile would (BudgetError)."""
    from .compiler.cost.render import render_text
    from .compiler.frontends import SourceRequest
    from .compiler.inspect_model import inspect_model
    from .compiler.target_checks import budget_error
    from .targets.profile import load_profile

    report = inspect_model(SourceRequest(source, input_shapes, (), weights, trust_pickle), target)
    if as_json:
        click.echo(json.dumps({"artifact": report.artifact, "target": target, **report.to_dict()}, indent=2))
    else:
        click.echo(render_text(report, load_profile(target), layer_count))
    if not report.fits:
        raise budget_error(report, target)
