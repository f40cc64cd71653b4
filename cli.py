"""The `edgec` command line: parse, call the API, print. No compiler logic lives here."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from .cli_builds import builds_command
from .cli_device import bundle_command, html_command, ingest_command, run_command
from .cli_inspect import inspect_command
from .cli_options import (
    Budget,
    OutputPath,
    cache_dir_option,
    executor_options,
    input_shape_option,
    parse_constants,
    parse_states,
)
from .cli_sweep import sweep_command
from .compiler.config import load_config_defaults
from .compiler.errors import EdgecError, GateError, InputError
from .runtimes.output_kinds import KIND_NAMES


def _budget(_ctx: click.Context, _param: click.Parameter, value: str) -> Any:
    from .compiler.search import SearchLimits

    seconds, _, trials = value.partition(",")
    try:
        return SearchLimits(float(seconds), int(trials) if trials else SearchLimits.trials)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected SECONDS[,TRIALS], e.g. 300,60") from None


def _prune(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    from .compiler.prune_request import parse_prune

    return parse_prune(value) if value else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgec")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Defaults for every option, from a TOML file (default: ./edgec.toml if present).",
)
@click.option("--debug", is_flag=True, help="Show the full traceback of an error, not just its one line.")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, debug: bool) -> None:
    """edgec: compile a trained model into validated int8 artifacts for an edge device."""
    if ctx.invoked_subcommand != "compile":  # only compile takes defaults from it: other commands never read it
        return
    commands = {"compile": {p.name for p in compile_command.params if p.name}}
    ctx.default_map = load_config_defaults(config, commands)


@cli.command("compile")
@click.argument("source", required=False)
@click.option("--target", "-t", default="host-x86", show_default=True, help="Target profile id or a .toml file.")
@click.option("--calib", type=click.Path(path_type=Path), help="Calibration data (.npz keyed by input name, .npy).")
@click.option("--eval", "eval_", type=click.Path(path_type=Path), help="Evaluation data with optional 'labels'.")
@click.option("--output", "-o", type=OutputPath(), help="Build folder [build/<model>-<target>].")
@click.option("--force", is_flag=True, help="Replace an existing build folder.")
@input_shape_option
@click.option("--input-name", "input_names", multiple=True, help="Input name (repeat per input).")
@click.option("--weights", type=click.Path(path_type=Path), help="state_dict for a factory (weights_only load).")
@click.option("--trust-pickle", is_flag=True, help="Allow loading pickled nn.Modules (runs their code).")
@click.option("--no-quantize", is_flag=True, help="Float build: drop the quantize pass.")
@click.option(
    "--calibration",
    type=click.Choice(["minmax", "percentile", "entropy", "mse"]),
    help="Calibration method [the profile's].",
)
@click.option("--pipeline", help="Pass pipeline, e.g. 'cleanup{method=ort},quantize{calibration=entropy}'.")
@click.option(
    "--prune",
    callback=_prune,
    help="Prune before quantizing: unstructured:0.5, structured:0.4, structured:auto (largest within budget), "
    "or a pass spec such as 'prune{method=wanda,sparsity=auto}'.",
)
@click.option(
    "--train",
    type=click.Path(path_type=Path),
    help="Labelled training data (.npz with 'labels') to fine-tune after --prune [demo: its training split].",
)
@click.option(
    "--recover-epochs",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Epochs of fine-tuning after --prune (0: no training; refit/mean recovery still apply).",
)
@click.option("--max-drop", type=Budget(), help="Allowed top-1 drop in points [the profile's].")
@click.option(
    "--gate-on",
    type=click.Choice(["point", "bound"]),
    default="point",
    show_default=True,
    help="Gate the accuracy drop's measured value, or the upper end of its 95% bootstrap interval.",
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    help="A previous build (folder or report.json): fail when an artifact's top-1 falls beyond noise.",
)
@click.option(
    "--promoted-baseline/--no-promoted-baseline",
    default=True,
    show_default=True,
    help="Without --baseline, hold the build to the one promoted for this target and model (edgec builds promote).",
)
@click.option(
    "--baseline-max-drop",
    type=Budget(),
    default=0.0,
    show_default=True,
    help="Top-1 points allowed to fall vs --baseline.",
)
@click.option(
    "--baseline-max-latency-increase",
    type=click.FloatRange(min=0),
    help="Percent the host median latency may rise vs --baseline, beyond noise [not gated].",
)
@click.option(
    "--min-agreement", type=Budget(upper=1), help="Allowed minimum top-1 agreement without labels [profile's]."
)
@click.option(
    "--metric", help="package.module:function(float_outputs, outputs, labels) -> number: the gate's primary metric."
)
@click.option("--metric-min", type=float, help="The floor --metric's value must reach (higher is better).")
@click.option(
    "--input",
    "constants",
    multiple=True,
    callback=parse_constants,
    help="NAME=VALUE: an input that is the same on every call (a sample rate), frozen into every artifact.",
)
@click.option(
    "--state",
    "states",
    multiple=True,
    callback=parse_states,
    help="A recurrent state, OUTPUT=INPUT (repeat per state): evaluate streaming, the output fed back each step.",
)
@click.option(
    "--min-sqnr", "min_sqnr_db", type=Budget(), help="Minimum output SQNR vs float in dB, every artifact [profile's]."
)
@click.option(
    "--output-kind",
    type=click.Choice(list(KIND_NAMES)),
    help="What the first output means, when its shape cannot tell (an [N,128] embedding: regression) [inferred].",
)
@click.option(
    "--search/--no-search",
    default=True,
    show_default=True,
    help="When int8 breaks the budget, search for the fewest layers to keep in float.",
)
@click.option(
    "--emulate/--no-emulate",
    default=None,
    help="Validate aarch64 targets' artifacts on their emulated core [when the emulator is set up].",
)
@click.option(
    "--search-budget", default="300,60", show_default=True, callback=_budget, help="Search limits: SECONDS[,TRIALS]."
)
@executor_options
@cache_dir_option
@click.option("--no-cache", is_flag=True, help="Neither read nor write the pass cache.")
@click.option(
    "--progress/--quiet",
    default=None,
    help="Progress: --progress live, --quiet none [live on a terminal, a line per finished stage in a log].",
)
def compile_command(
    source: str | None,
    search_budget: Any,
    eval_: Path | None,
    no_quantize: bool,
    calibration: str | None,
    pipeline: str | None,
    no_cache: bool,
    **options: Any,
) -> None:
    """Compile SOURCE (.onnx, .pt2, .pt, package.module:callable; none = the built-in demo) for a target."""
    from .compiler.api import CompileOptions, compile
    from .compiler.pipeline import Overrides

    overrides = Overrides(pipeline=pipeline, quantize=not no_quantize, calibration=calibration)
    result = compile(
        CompileOptions(
            source=source,
            eval=eval_,
            overrides=overrides,
            use_cache=not no_cache,
            search_limits=search_budget,
            **options,
        )
    )
    click.echo(_summary(result))
    if result.report["source"]["kind"] == "torch-factory" and options.get("weights") is None:
        click.echo(  # the build is real but its numbers may be a random network's: say so where it cannot be missed
            f"edgec: warning: {source}: no --weights given, so the weights are the factory's own initialization "
            "(random unless it loads trained ones itself); pass --weights FILE with the trained state_dict",
            err=True,
        )
    if not result.passed:
        checks = result.report["gate"]["checks"]
        if all(c["passed"] or c["metric"] == "artifact_built" for c in checks):
            raise GateError(
                f"build incomplete: {_failed(checks)}; the artifacts that were built and passed are in "
                f"{result.path}, its report.md says why the others are missing"
            )
        raise GateError(
            f"drift gate failed: {_failed(checks)}; the build is in {result.path}, "
            "its report.md says where the drift comes from"
        )


@cli.group()
def targets() -> None:
    """List and show target profiles."""


@targets.command("list")
def targets_list() -> None:
    """List the known target profiles."""
    from .targets.profile import known_targets, load_profile

    for name in known_targets():
        profile = load_profile(name)
        click.echo(f"{profile.id:<12} {profile.description}")


@targets.command("show")
@click.argument("target")
def targets_show(target: str) -> None:
    """Show a target profile: its facts and the decisions they drive."""
    from .targets.profile import ProfileError, load_profile
    from .targets.render import render_profile

    try:
        click.echo(render_profile(load_profile(target)))
    except ProfileError as exc:
        raise InputError(str(exc)) from None


def _summary(result: Any) -> str:
    from .compiler.summary import summarize

    found = result.build_id
    registered = f"\nregistered as build {found} (edgec builds show {found})" if found else ""
    return summarize(result.report, result.path) + registered


def _failed(checks: list[dict[str, Any]]) -> str:
    from .compiler.summary import failed_checks

    return failed_checks(checks)


@cli.group()
def report() -> None:
    """Read and compare build reports."""


@report.command("show")
@click.argument("build", type=click.Path(path_type=Path))
def report_show(build: Path) -> None:
    """Print a build's summary (BUILD: a build folder or its report.json); exit 1 when its gate failed."""
    from .compiler.report_diff import load_report
    from .compiler.summary import summarize

    found = load_report(build)
    click.echo(summarize(found, build if build.is_dir() else build.parent))
    if not found["gate"]["passed"]:
        raise GateError(f"{build}: the build failed its gate: {_failed(found['gate']['checks'])}")


@report.command("diff")
@click.argument("builds", nargs=-1, required=True, metavar="[BASE] NEW", type=click.Path(path_type=Path))
@click.option(
    "--max-drop", type=Budget(), default=0.0, show_default=True, help="Top-1 points an artifact may lose, beyond noise."
)
@click.option(
    "--max-latency-increase",
    type=click.FloatRange(min=0),
    help="Percent the host median latency may rise, beyond noise [latency not gated].",
)
def report_diff(builds: tuple[Path, ...], max_drop: float, max_latency_increase: float | None) -> None:
    """Compare build NEW with BASE (folders or report.json; without BASE, the build promoted for NEW's target in
    the build registry); exit 1 on an accuracy (or, when asked, latency) regression beyond noise."""
    from .compiler.report_diff import diff_reports, load_report, regression_checks, render_diff

    if len(builds) > 2:
        raise click.UsageError(f"expected [BASE] NEW, got {len(builds)} paths")
    new, current = builds[-1], load_report(builds[-1])
    if len(builds) == 2:
        base, name = builds[0], str(builds[0])
    else:
        from .compiler.builds import promoted_folder

        build_id, base = promoted_folder(current["target"]["id"], current["source"]["name"])
        name = f"promoted build {build_id} ({base})"
    found = diff_reports(load_report(base), current, max_drop, (name, str(new)), max_latency_increase)
    click.echo(render_diff(found))
    if found.regressed:
        checks = [dataclasses.asdict(c) for c in regression_checks(found)]
        raise GateError(f"{new} regressed against {name}: {_failed(checks)}")


cli.add_command(builds_command)
cli.add_command(bundle_command)
cli.add_command(inspect_command)
cli.add_command(sweep_command)
cli.add_command(run_command)
report.add_command(ingest_command)
report.add_command(html_command)


INTERNAL_ERROR = 70  # EX_SOFTWARE: edgec itself failed, as opposed to the 1-5 of errors the user can act on


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every error becomes one line on stderr and its exit code.

    A traceback is for the person debugging edgec, not for the user, so it is printed only with --debug;
    an unexpected exception (a bug) still gets one line that says what to do."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args[: args.index("--")] if "--" in args else "--debug" in args
    try:
        code = cli.main(args=args, prog_name="edgec", standalone_mode=False)
    except EdgecError as exc:
        _fail(f"edgec: error: {_one_line(exc)}", exc.exit_code, debug)
    except click.exceptions.Abort:
        _fail("edgec: interrupted", 130, debug)
    except click.exceptions.NoArgsIsHelpError as exc:  # a bare `edgec` or `edgec report`: the help is the answer
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _fail(f"edgec: error: {_one_line(exc).rstrip('.')}{_see_help(exc)}", exc.exit_code, debug)
    except Exception as exc:
        _fail(
            f"edgec: internal error: {type(exc).__name__}: {_one_line(exc)}; this is a bug in edgec, "
            "re-run with --debug for the traceback and report it",
            INTERNAL_ERROR,
            debug,
        )
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(exc: BaseException) -> str:
    text = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def _see_help(exc: click.ClickException) -> str:
    """Click's usage block is several lines; one pointer to the command's help says the same in one."""
    context = getattr(exc, "ctx", None)
    return f" (see '{context.command_path} --help')" if context is not None else ""


def _fail(line: str, code: int, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc()
    click.echo(line, err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
