"""A compile killed with SIGKILL at any point, then re-run, finishes with the same bytes and re-uses what the
killed run completed; a kill while a cache entry is being stored never leaves an entry that is trusted; two
compiles sharing one cache at once both succeed and leave only verified entries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import make_context
from edgec.compiler.cache import PassCache
from edgec.compiler.cache_store import STALE_STAGING_SECONDS
from edgec.compiler.engine import run_passes
from edgec.compiler.passes.cleanup import Cleanup

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import onnx
    from edgec.compiler.cache import PassCache
    from edgec.compiler.engine import run_passes
    from edgec.compiler.kinds import OnnxModel
    from edgec.compiler.passes.cleanup import Cleanup
    from edgec.compiler.passes.base import Context
    from edgec.compiler.progress import Progress
    from edgec.targets.profile import load_profile

    model_path, cache_dir, moment = sys.argv[1:]
    die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
    if moment == "before-rename":
        os.rename = die
    else:  # half the payload is on disk when the process dies
        write = Path.write_bytes
        Path.write_bytes = lambda self, data: (write(self, data[: len(data) // 2]), die())
    ctx = Context(load_profile("host-x86"), None, Progress(False), None)
    run_passes(OnnxModel(onnx.load(model_path)), [Cleanup()], ctx, PassCache(Path(cache_dir)))
    """
)


@pytest.mark.parametrize("moment", ["mid-payload", "before-rename"])
def test_kill_while_storing_leaves_no_trusted_entry(tmp_path, tiny_onnx, moment):
    model, path = tiny_onnx
    done = subprocess.run([sys.executable, "-c", KILLER, str(path), str(tmp_path), moment], env=ENV)
    assert done.returncode == -signal.SIGKILL
    staging = list((tmp_path / "passes").glob("*/.*"))
    assert staging and not [p for p in (tmp_path / "passes").glob("*/*") if not p.name.startswith(".")]
    cache = PassCache(tmp_path)
    _, records = run_passes(model, [Cleanup()], make_context(), cache)
    assert records[0].cached is False  # the killed store left nothing a later run would load
    _, records = run_passes(model, [Cleanup()], make_context(), cache)
    assert records[0].cached is True
    old = time.time() - STALE_STAGING_SECONDS - 60
    for folder in staging:
        os.utime(folder, (old, old))
    cache.store(staging[0].parent.name.ljust(64, "0"), model, {})  # a store into that shard sweeps it
    assert not any(folder.exists() for folder in staging)


def _start(args: list[str], cache: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edgec.cli", *args, "--cache-dir", str(cache)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _pass_durations(report: dict) -> dict[str, float]:
    records = [*report["import"], *(r for a in report["artifacts"] for r in a["passes"])]
    return {r["name"]: r["seconds"] for r in records if not r["cached"]}


def test_sigkill_in_every_pass_then_rerun_reuses_and_matches(tmp_path, demo_build):
    """Kill the rpi4 demo compile half-way through each pass in turn, each time re-running on the cache the
    killed runs left. A re-run must not redo (print) a pass a killed run completed, and the last run must
    give the bytes of an uninterrupted compile. A pass that finished before the kill landed is fine too: it
    must then come from the cache, which the next run's step lines show."""
    durations = _pass_durations(demo_build.report)
    cache, out = tmp_path / "cache", tmp_path / "out"
    args = ["compile", "--target", "rpi4", "-o", str(out), "--progress"]
    killed_in: list[str] = []
    completed: set[str] = set()  # passes a killed run finished: every later run must take them from the cache
    for _ in range(len(durations) + 2):
        process = _start(args, cache)
        started = []
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("edgec: ") and line.rstrip().endswith(" ..."):
                name = line.removeprefix("edgec: ").removesuffix(" ...\n")
                if name in durations:
                    started.append(name)
                    if name not in killed_in:
                        time.sleep(min(durations[name] / 2, 5.0))
                        os.killpg(process.pid, signal.SIGKILL)
                        killed_in.append(name)
                        break
        process.wait()
        assert not set(started) & completed, f"a completed pass was recomputed: {started} after {completed}"
        completed |= set(started[:-1])
        if process.returncode != -signal.SIGKILL:
            break
        assert not out.exists()  # a killed compile leaves no half build
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    assert set(killed_in) == set(durations), f"kill points tried: {killed_in}"
    report = json.loads((out / "report.json").read_text())
    for first, again in zip(demo_build.report["artifacts"], report["artifacts"], strict=True):
        assert first["sha256"] == again["sha256"], first["file"]
    print(f"kill points tried: {killed_in}")


def test_two_compiles_share_one_cache_at_once(tmp_path):
    cache = tmp_path / "cache"
    runs = [_start(["compile", "--target", "host-x86", "-o", str(tmp_path / f"b{i}")], cache) for i in range(2)]
    for process in runs:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    reports = [json.loads((tmp_path / f"b{i}" / "report.json").read_text()) for i in range(2)]
    assert [a["sha256"] for a in reports[0]["artifacts"]] == [a["sha256"] for a in reports[1]["artifacts"]]
    entries = [p for p in (cache / "passes").glob("*/*") if not p.name.startswith(".")]
    store = PassCache(cache)
    assert entries and all(store.load(entry.name) is not None for entry in entries)  # every entry verifies
    assert not list((cache / "passes").glob("*/.*"))  # the loser of a race removed its staging folder
