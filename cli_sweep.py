"""`edgec sweep`: parse, call the sweep driver, print. No sweep logic lives here."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_options import cache_dir_option, executor_options
from .compiler.errors import EdgecError


@click.command("sweep")
@click.argument("sweep_file", type=click.Path(path_type=Path))
@executor_options
@cache_dir_option
@click.option("--progress/--quiet", default=None, help="Show each job as it ends [on a terminal only].")
def sweep_command(
    sweep_file: Path, executor: str, jobs: int | None, address: str | None, cache_dir: str | None, progress: bool | None
) -> None:
    """Compile every model x target x variant of SWEEP_FILE and write one summary (table, plot, Pareto front);
    exit 1 when a job failed (re-run to redo only those)."""
    from .compiler.cache import default_cache_dir
    from .compiler.executors import make_executor
    from .compiler.progress import Progress
    from .compiler.sweep.run import run_sweep
    from .compiler.sweep.spec import load_sweep

    sweep = load_sweep(sweep_file, cache_dir or default_cache_dir())
    result = run_sweep(sweep, make_executor(executor, jobs, address), Progress(progress))
    click.echo(
        f"edgec: sweep {sweep_file.name}: {len(sweep.jobs)} job(s), {result.ran} run, {result.reused} reused; "
        f"summary in {result.output / 'summary.md'} and summary.png"
    )
    if result.failed:
        names = ", ".join(f"{r['model']}--{r['target']}--{r['variant']}" for r in result.failed)
        raise SweepFailed(f"{len(result.failed)} job(s) failed ({names}); see summary.md, re-run to redo only those")


class SweepFailed(EdgecError):
    """Some jobs of a sweep failed; the others' builds and the summary are written."""

    exit_code = 1
