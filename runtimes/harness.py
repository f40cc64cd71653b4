"""The device-side harness: run every artifact of a bundle, measure it, write results.json.

    python -m edgec.runtimes.harness model.bundle --out results.json     # where edgec[device] is installed
    python model.bundle --out results.json                               # anywhere with numpy and a runtime

Each artifact is measured in a child process (harness_worker.py) so its peak memory is its own and a crash
costs one result. The device's state (governor, clocks, temperature, throttling) is read before and after.
Exit status: 0 when every artifact ran, 1 when one failed (results.json still holds the rest), 2 when the
bundle or the arguments are unusable.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import zipimport
from pathlib import Path
from typing import Any, NoReturn

from .. import __version__  # the package root holds only its version: still compiler-free
from .bundle import Bundle, BundleError
from .bundle_main import WORKER_FLAG
from .device_env import dynamic_state, static_environment
from .harness_worker import Settings
from .jsonio import to_json

RESULTS_FORMAT = 1
WORKER = "from edgec.runtimes.harness_worker import main; main()"


def run_harness(bundle: Bundle, settings: Settings, only: list[str] | None = None) -> dict[str, Any]:
    artifacts = [a for a in bundle.artifacts if not only or a.name in only]
    if not artifacts:
        known = ", ".join(a.name for a in bundle.artifacts)
        raise BundleError(f"--artifact {','.join(only or [])}: not in the bundle (it has: {known})")
    before, started = dynamic_state(), time.time()
    runs = []
    for artifact in artifacts:
        print(f"harness: {artifact.name} ({artifact.runtime}, {settings.threads} threads)...", file=sys.stderr)
        runs.append(_run_worker(bundle, artifact.name, settings))
        print(f"harness: {artifact.name}: {_line(runs[-1])}", file=sys.stderr)
    return {
        "results_format": RESULTS_FORMAT,
        "harness_version": __version__,
        "bundle": {
            "sha256": bundle.sha256(),
            "target": bundle.index["target"]["id"],
            "report_sha256": bundle.index["build"]["report_sha256"],
            "model": bundle.index["build"]["model"],
            "max_latency_ms": bundle.index["target"].get("max_latency_ms"),
        },
        "settings": dataclasses.asdict(settings),
        "started_unix": round(started, 3),
        "seconds": round(time.time() - started, 3),
        "environment": {**static_environment(), "before": before, "after": dynamic_state()},
        "runs": runs,
    }


def _run_worker(bundle: Bundle, name: str, settings: Settings) -> dict[str, Any]:
    """One artifact in a child with the same interpreter, import path and harness code: this edgec, or the
    bundle's own when the harness runs as `python model.bundle` (then the child starts as the bundle does)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    archive = _code_archive()
    python = _interpreter()
    start = [*python, "-c", WORKER] if archive is None else [*python, archive, WORKER_FLAG]
    with tempfile.TemporaryDirectory(prefix="edgec-harness-") as folder:
        out = Path(folder) / "result.json"
        settings_json = json.dumps(dataclasses.asdict(settings))
        argv = [*start, str(bundle.path), name, settings_json, str(out)]
        child = subprocess.run(argv, env=environment, capture_output=True, text=True)
        if out.exists():
            return json.loads(out.read_text())
    last = (child.stderr.strip().splitlines() or ["no output"])[-1]
    return {"artifact": name, "error": f"the worker process died (exit {child.returncode}): {last[:400]}"}


def _interpreter() -> list[str]:
    """This interpreter as a command. Under qemu-user a child cannot exec the guest's aarch64 binary itself,
    so `edgec run --device emulated:...` passes the emulator's whole command in EDGEC_CHILD_PYTHON (JSON)."""
    given = os.environ.get("EDGEC_CHILD_PYTHON")
    return [str(part) for part in json.loads(given)] if given else [sys.executable]


def _code_archive() -> str | None:
    """The bundle this code was imported from (bundle_main.py loads it so), or None for an installed edgec."""
    loader = __spec__.loader if __spec__ is not None else None
    return loader.archive if isinstance(loader, zipimport.zipimporter) else None


def _line(run: dict[str, Any]) -> str:
    if "error" in run:
        return "FAILED: " + run["error"]
    latency, accuracy = run["latency"], run["accuracy"]
    text = f"p50 {latency['p50_ms']:.3f} ms, p90 {latency['p90_ms']:.3f} ms over {latency['n']} runs"
    if "accuracy" in accuracy:
        text += f", accuracy {accuracy['accuracy']:.4f} on {accuracy['samples']}"
    return text + f", peak RSS {run['memory']['peak_rss_bytes'] / 2**20:.1f} MiB"


def claim(out: Path) -> Path:
    """Create the file the results are written to before their rename to `out`, before measuring: an
    unwritable --out must cost one line now, not a traceback after minutes of runs (read as a failed run)."""
    if out.is_dir() or not out.name:
        raise BundleError(f"--out {out}: is a folder; give a file name such as {out / 'results.json'}")
    partial = out.with_name(out.name + ".partial")
    try:
        partial.touch()
    except OSError as exc:
        raise BundleError(
            f"--out {out}: cannot write there ({exc.strerror or exc}); choose a writable path for results.json"
        ) from None
    return partial


def _write(results: dict[str, Any], partial: Path, out: Path) -> None:
    """Write through `partial` and rename, so a reader never sees half a results.json."""
    try:
        partial.write_bytes(to_json(results))
        partial.replace(out)
    except OSError as exc:  # claimed, yet not written: a full disk, a folder removed meanwhile
        raise BundleError(f"--out {out}: cannot write the results ({exc.strerror or exc})") from None


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints its usage block before an error; on a device log, as in edgec's CLI, one line says it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"harness: error: {message} (see {self.prog} --help)\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _OneLineParser(prog="edgec-harness", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="the .bundle file made by `edgec bundle`")
    parser.add_argument("--out", type=Path, default=Path("results.json"), help="where to write results.json")
    parser.add_argument("--threads", type=int, help="runtime threads (default: the target profile's)")
    parser.add_argument("--runs", type=int, default=50, help="at least this many timed runs (default 50)")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="and at least this long (default 1)")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="but never longer (default 10)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs after the first (default 5)")
    parser.add_argument("--artifact", action="append", help="only this artifact (repeatable)")
    args = parser.parse_args(argv)
    for flag in ("runs", "min_seconds", "max_seconds", "warmup"):
        if getattr(args, flag) < 0:
            parser.error(f"--{flag.replace('_', '-')} must not be negative")
    if args.max_seconds < args.min_seconds:
        parser.error("--max-seconds must not be below --min-seconds")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        bundle = Bundle(args.bundle)
        bundle.verify()
        threads = args.threads or int(bundle.index["target"]["threads"])
        settings = Settings(threads, args.runs, args.min_seconds, args.max_seconds, args.warmup)
        partial = claim(args.out)
        try:
            results = run_harness(bundle, settings, args.artifact)
            _write(results, partial, args.out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    except BundleError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    failed = [run["artifact"] for run in results["runs"] if "error" in run]
    print(f"harness: wrote {args.out}" + (f"; failed: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
