"""The device-side commands of the `edgec` CLI: bundle a build, run it on a device, fold the results back in.

Kept apart from cli.py (the compile side) only for size; like it, parse, call the API, print.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from .compiler.errors import GateError, InputError


@click.command("bundle")
@click.argument("build", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Bundle file [<build>.bundle].")
@click.option("--eval", "eval_", type=click.Path(path_type=Path), help="Evaluation data [the demo's own split].")
@click.option("--samples", type=int, default=256, show_default=True, help="Evaluation samples to bundle.")
def bundle_command(build: Path, output: Path | None, eval_: Path | None, samples: int) -> None:
    """Pack BUILD's artifacts, an evaluation subset and the harness into one file for the device."""
    from .compiler.bundle_writer import write_bundle

    out = output or build.with_name(build.name + ".bundle")
    found = write_bundle(build, out, eval_, samples)
    same = "the build's own evaluation data" if found.same_data_as_build else "other data than the build's"
    click.echo(
        f"wrote {found.path} ({found.bytes / 1024:.0f} KiB): {', '.join(found.artifacts)}; "
        f"{found.samples} samples of {same}"
    )
    click.echo(f"on the device: python {found.path.name} --out results.json   (needs numpy and the runtimes)")


@click.command("run")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--device",
    help="ssh://[user@]host[:port], or emulated:TARGET (the target's Arm core under qemu); without it, here.",
)
@click.option("--out", "-o", type=click.Path(path_type=Path), default=Path("results.json"), show_default=True)
@click.option("--build", type=click.Path(path_type=Path), help="Fold the results into this build's report.")
@click.option("--python", default="python3", show_default=True, help="Python on the device.")
@click.option("--setup-venv", is_flag=True, help="Install numpy and the runtimes into a venv on the device first.")
@click.option("--workdir", default=".edgec", show_default=True, help="Folder on the device (from its home).")
@click.option("--identity", "-i", type=click.Path(path_type=Path), help="ssh private key.")
@click.option("--known-hosts", type=click.Path(path_type=Path), help="ssh known_hosts file to verify the device.")
@click.option("--ssh-option", multiple=True, help="Extra ssh -o option (repeatable).")
@click.option("--runs", type=int, help="Harness: at least this many timed runs.")
@click.option("--min-seconds", type=float, help="Harness: and at least this long.")
@click.option("--max-seconds", type=float, help="Harness: but never longer per artifact.")
@click.option("--threads", type=int, help="Harness: runtime threads [the target profile's].")
def run_command(bundle: Path, device: str | None, out: Path, build: Path | None, **options: object) -> int:
    """Run BUNDLE's harness on a device (or here) and write its results.json; with --build, ingest it."""
    from .compiler.remote import Device, run_on_device
    from .runtimes.jsonio import to_json

    flags = {"runs": "--runs", "min_seconds": "--min-seconds", "max_seconds": "--max-seconds", "threads": "--threads"}
    harness_args = [
        item for key, flag in flags.items() if options[key] is not None for item in (flag, str(options[key]))
    ]
    _check_writable(out)
    if device is not None and device.startswith("emulated:"):
        from .compiler.emulator.device import emulated_core, run_bundle

        _check_bundle(bundle)
        quick = [] if harness_args else ["--runs", "3", "--min-seconds", "0", "--max-seconds", "5"]  # qemu timings
        code, label = run_bundle(device, bundle, harness_args + quick, out), f"emulated {emulated_core(device)}"
    elif device is None:
        _check_bundle(bundle)
        # this edgec's harness, not the bundle's own code: on the host a bundle is data, never a program
        harness = [sys.executable, "-m", "edgec.runtimes.harness", str(bundle)]
        done = subprocess.run([*harness, "--out", str(out), *harness_args])
        if done.returncode not in (0, 1):
            raise InputError(f"{bundle}: the harness could not run it (exit {done.returncode}); see above")
        code, label = done.returncode, "this machine"
    else:
        target = Device.parse(
            device,
            identity=options["identity"],
            known_hosts=options["known_hosts"],
            options=list(options["ssh_option"]),  # type: ignore[call-overload]
        )
        if sys.stderr.isatty():  # progress, like compile's: on a terminal only, so a log holds just the outcome
            click.echo(f"edgec run: {bundle} on {device}...", err=True)
        remote = run_on_device(
            target, bundle, harness_args, str(options["python"]), bool(options["setup_venv"]), str(options["workdir"])
        )
        click.echo(remote.log.rstrip(), err=True)
        out.write_bytes(to_json(remote.results))
        code, label = remote.harness_exit, device
    click.echo(f"wrote {out}")
    if build is not None:
        _ingest(out, build, label)  # raises GateError when a device check fails
    return code


@click.command("ingest")
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--build", type=click.Path(path_type=Path), help="The build [the folder holding RESULTS].")
@click.option("--label", help="Name of the device in the report [its CPU].")
def ingest_command(results: Path, build: Path | None, label: str | None) -> None:
    """Fold the harness's RESULTS into the build's report.json, report.md and report.html; exit 1 when a device
    check (latency budget, accuracy drop, agreement with the host) fails."""
    _ingest(results, build, label)


@click.command("html")
@click.argument("build", type=click.Path(path_type=Path))
def html_command(build: Path) -> None:
    """Re-render BUILD's report.md and report.html from its report.json."""
    from .compiler.device_ingest import rewrite_views
    from .compiler.report_diff import load_report

    rewrite_views(build, load_report(build))
    click.echo(f"wrote {build / 'report.html'} and {build / 'report.md'}")


def _check_writable(out: Path) -> None:
    """Refuse an unwritable -o before the run, not after it (a traceback once the device's minutes are spent)."""
    import tempfile

    if out.is_dir() or not out.name:
        raise InputError(f"-o {out}: is a folder; give a file name such as {out / 'results.json'}")
    try:
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}."):
            pass
    except OSError as exc:
        raise InputError(f"-o {out}: cannot write there ({exc.strerror or exc}); choose a writable path") from None


def _check_bundle(bundle: Path) -> None:
    """Refuse a missing, foreign or corrupt bundle here, in one line: run as a script, any file would
    otherwise be executed by Python and fail with its own traceback."""
    from .runtimes.bundle import Bundle, BundleError

    try:
        Bundle(bundle).verify()
    except BundleError as exc:
        raise InputError(str(exc)) from None


def _ingest(results: Path, build: Path | None, label: str | None) -> None:
    from .compiler.device_ingest import ingest
    from .compiler.report_device import device_summary
    from .compiler.summary import failed_checks

    found = ingest(results, build, label)
    click.echo("\n".join(device_summary(found.run)))
    click.echo(f"updated {found.build / 'report.json'} and report.html")
    if found.registered is not None:
        click.echo(f"recorded in the build registry against build {found.registered} (edgec builds show)")
    if not found.passed:
        raise GateError(f"{results}: the device run failed its checks: {failed_checks(found.run['checks'])}")
