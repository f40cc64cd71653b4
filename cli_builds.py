"""`edgec builds`: the project's build registry on the command line. Parse, call compiler.builds, print.

Every command imports the registry lazily, so `edgec --help` stays cheap; only `show --plot` loads matplotlib.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from .cli_options import Budget
from .compiler.errors import GateError


@click.group("builds")
def builds_command() -> None:
    """The project's build registry (.edgec/ in $EDGEC_PROJECT or here): list, compare, promote, roll back."""


@builds_command.command("list")
@click.option("--target", "-t", help="Only the builds of this target.")
def builds_list(target: str | None) -> None:
    """List registered builds, oldest first; * marks the promoted build of each target. The folder column says
    whether each folder still holds its build: ok, altered (a file no longer matches the manifest), replaced or
    missing."""
    from .compiler.builds import list_builds, promoted
    from .compiler.builds.integrity import condition
    from .compiler.builds.render import build_list

    records = list_builds(target)
    current = {t: promoted(t) for t in {r.target for r in records}}
    rows = [(r, condition(r), (p := current[r.target]) is not None and p.id == r.id) for r in records]
    click.echo(build_list(rows))


@builds_command.command("show")
@click.argument("build")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Write the target's trend PNG here.")
@click.option("--drift-latency", type=click.FloatRange(min=0), default=20.0, show_default=True, help="Percent.")
@click.option("--drift-accuracy", type=click.FloatRange(min=0), default=1.0, show_default=True, help="Top-1 points.")
def builds_show(build: str, plot: Path | None, drift_latency: float, drift_accuracy: float) -> None:
    """Show BUILD (an id, id prefix or build folder): host metrics, device runs over time, drift between runs."""
    from .compiler.builds import get_build, promoted
    from .compiler.builds.integrity import condition
    from .compiler.builds.render import build_show
    from .compiler.builds.trend import drifts, trend

    record = get_build(build)
    series = trend(record.target)
    flagged = drifts(series, drift_latency, drift_accuracy)
    current = promoted(record.target)
    click.echo(build_show(record, condition(record), current is not None and current.id == record.id, flagged))
    if plot is not None:
        from .compiler.builds.trend_plot import trend_png

        plot.write_bytes(trend_png(record.target, series, flagged))
        click.echo(f"wrote {plot} (trend of {record.target}: {len(series)} series, {len(flagged)} drift step(s))")


@builds_command.command("diff")
@click.argument("base")
@click.argument("new")
@click.option("--max-drop", type=Budget(), default=0.0, show_default=True, help="Top-1 points an artifact may lose.")
@click.option("--max-latency-increase", type=click.FloatRange(min=0), help="Percent [latency not gated].")
def builds_diff(base: str, new: str, max_drop: float, max_latency_increase: float | None) -> None:
    """Compare build NEW with BASE (ids or folders) as `edgec report diff` does; exit 1 on a regression."""
    from .compiler.builds import live_folder
    from .compiler.report_diff import diff_reports, load_report, regression_checks, render_diff
    from .compiler.summary import failed_checks

    old, current = load_report(live_folder(base)), load_report(live_folder(new))
    found = diff_reports(old, current, max_drop, (base, new), max_latency_increase)
    click.echo(render_diff(found))
    if found.regressed:
        checks = [dataclasses.asdict(c) for c in regression_checks(found)]
        raise GateError(f"build {new} regressed against build {base}: {failed_checks(checks)}")


@builds_command.command("promote")
@click.argument("build")
@click.option("--target", "-t", required=True, help="The target whose production build this becomes.")
def builds_promote(build: str, target: str) -> None:
    """Mark BUILD as the build in production for TARGET (the baseline `report diff NEW` compares against)."""
    from .compiler.builds import promote

    record = promote(build, target)
    click.echo(f"{target}: build {record.id} ({record.model}, {record.path}) is the promoted build")


@builds_command.command("rollback")
@click.option("--target", "-t", required=True, help="The target to roll back.")
def builds_rollback(target: str) -> None:
    """Make the build promoted before TARGET's current one current again, and print the artifacts to ship."""
    from .compiler.builds import rollback
    from .compiler.builds.render import shipment

    click.echo(shipment(rollback(target)))


@builds_command.command("reindex")
@click.argument("folders", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
def builds_reindex(folders: tuple[Path, ...]) -> None:
    """Rebuild the registry from the build folders under FOLDERS [the project folder] and the journal."""
    from .compiler.builds import reindex

    done = reindex(list(folders) or None)
    if done.moved_aside is not None:
        why = f"damaged: {done.damaged}" if done.damaged else "kept"
        click.echo(f"old registry moved aside to {done.moved_aside} ({why})")
    for line in done.skipped:
        click.echo(f"skipped {line}", err=True)
    dropped = f"; {done.promotions_dropped} dropped (their builds are gone)" if done.promotions_dropped else ""
    click.echo(
        f"registered {len(done.builds)} build(s), {done.device_runs} device run(s), "
        f"{done.promotions} promotion action(s){dropped}"
    )


@builds_command.command("export")
@click.argument("build")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Archive.")
def builds_export(build: str, output: Path) -> None:
    """Write BUILD (artifacts, manifest, report) as one archive, verified against its manifest first."""
    from .compiler.builds import export_build

    click.echo(f"wrote {export_build(build, output)}")


@builds_command.command("import")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True, help="New build folder.")
def builds_import(archive: Path, output: Path) -> None:
    """Unpack ARCHIVE into a new build folder, every file checked against its sha256, and register it."""
    from .compiler.builds import import_build

    done = import_build(archive, output)
    click.echo(f"imported build {done.exported_id} into {done.path}, registered as build {done.id}")
