"""Same inputs, config and tool versions give the same build, byte for byte, whatever the cache holds.

Every build is compared with the session's demo build (`demo_build`: rpi4, ONNX + TFLite, compiled in the
pytest process through the Python API on the shared session cache), reached three other ways:
  (a) a separate compile in a fresh process on an empty cache, where every pass runs;
  (b) that compile again on the now-warm cache, where every pass is read back from it;
  (c) a compile with no cache at all (no pass entries, no scratch calibration ranges).
Fine-tuning, the one step whose numbers depended on the host (torch's thread count), is checked apart.
Only what was measured may differ: durations, host latency and the CPU it ran on, and whether a pass came
from the cache. Those keys are taken out of report.json and manifest.json; everything else must be equal.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import make_context, run_cli
from edgec.compiler.report import stages

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')

ARTIFACTS = ("baseline.float32.onnx", "digits-cnn.int8.onnx", "digits-cnn.int8.tflite")
# Views of report.json (the build time, the latency table and plot): report.json itself is compared instead.
VIEWS = ("report.md", "report.html")
# Measured, not computed: the wall time of the build and of each pass, and whether a pass was read from the
# cache (a warm cache differs from a cold one by design; the tests check it apart).
MEASURED = ("seconds", "cached")
# Of a latency record, what was timed and how; the rest (CPU name, run count, every ms figure) is measured.
LATENCY_SETUP = ("where", "runtime", "threads", "batch")
SHOWN = 40  # differences listed when builds differ; the rest are counted


def test_fresh_process_on_cold_then_warm_cache_gives_the_session_build(tmp_path, demo_build, session_cache):
    cache = tmp_path / "cache"
    builds = {"cold": tmp_path / "cold", "warm": tmp_path / "warm"}
    for out in builds.values():
        done = run_cli("compile", "--target", "rpi4", "-o", str(out), cache=cache)
        assert done.returncode == 0, done.stderr
    cold, warm = (_json(path / "report.json") for path in builds.values())
    ran = [rec["name"] for _, rec in stages(cold) if not rec["cached"]]
    assert ran == ["torch-to-onnx", "cleanup", "quantize", "onnx-to-tf", "tflite"]  # the 2nd cleanup: same input
    assert all(rec["cached"] for _, rec in stages(warm)), "the warm compile ran a pass again"
    assert_same_build(demo_build.path, builds["cold"])  # (a)
    assert_same_build(builds["cold"], builds["warm"])  # (b)
    assert_same_cache_entries(cache, session_cache)


def test_uncached_compile_gives_the_session_build(tmp_path, demo_build):
    from edgec.compiler.api import CompileOptions, compile

    again = compile(CompileOptions(target="rpi4", output=tmp_path / "again", use_cache=False, progress=False))
    assert not any(rec["cached"] for _, rec in stages(again.report))
    assert_same_build(demo_build.path, again.path)  # (c)


def test_fine_tuning_gives_the_same_weights_whatever_torchs_thread_count(demo_build):
    """torch splits its reductions by its thread count, which defaults to the host's cores: a 2-core and a
    4-core machine would train different weights unless the pass pins its own count."""
    import torch

    from edgec.compiler.frontends.demo import demo_split
    from edgec.compiler.kinds import OnnxModel
    from edgec.compiler.passes.finetune import Finetune

    baseline = OnnxModel.from_bytes((demo_build.path / "baseline.float32.onnx").read_bytes())
    context = make_context(training=demo_split("train"))
    before, fingerprints = torch.get_num_threads(), []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            fingerprints.append(Finetune(epochs=1).run(baseline, context).model.fingerprint)
            assert torch.get_num_threads() == threads, "the pass did not give torch its thread count back"
    finally:
        torch.set_num_threads(before)
    assert fingerprints[0] == fingerprints[1]


def assert_same_build(expected: Path, actual: Path) -> None:
    """Every file of two build folders: artifacts byte for byte, records without what was measured."""
    names = sorted(p.name for p in expected.iterdir())
    assert names == sorted(p.name for p in actual.iterdir()), f"{expected} and {actual} hold different files"
    assert set(ARTIFACTS) <= set(names), f"{expected} lacks an artifact: {names}"
    problems = []
    for name in names:
        old, new = (folder / name for folder in (expected, actual))
        if name == "report.json":
            problems += differences(computed(_json(old)), computed(_json(new)), name)
        elif name == "manifest.json":
            problems += differences(computed_manifest(_json(old)), computed_manifest(_json(new)), name)
        elif name not in VIEWS and old.read_bytes() != new.read_bytes():
            problems.append(f"{name}: bytes differ (sha256 {_sha256(old)[:16]} vs {_sha256(new)[:16]})")
    shown = problems[:SHOWN] + ([f"... and {len(problems) - SHOWN} more"] if len(problems) > SHOWN else [])
    assert not problems, f"{expected} vs {actual}:\n" + "\n".join(shown)


def assert_same_cache_entries(cache: Path, reference: Path) -> None:
    """Every pass output stored on the way, the SavedModel between ONNX and TFLite included, is content-addressed:
    the same key must hold the same bytes in another process's cache, or later passes lose their cache hits."""
    entries = sorted((cache / "passes").glob("*/*/"))
    assert entries, f"nothing was cached in {cache}"
    problems = []
    for entry in entries:
        twin = reference / "passes" / entry.relative_to(cache / "passes")
        kind = _json(entry / "meta.json")["kind"]
        if not twin.is_dir():
            problems.append(f"{entry.name[:16]} ({kind} model): not in the session cache: an input of its pass differs")
            continue
        for part in ("model.bin", "meta.json"):
            if (entry / part).read_bytes() != (twin / part).read_bytes():
                problems.append(f"{entry.name[:16]} ({kind} model): {part} differs for the same key")
    assert not problems, "pass outputs differ between two caches:\n" + "\n".join(problems)


def computed_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """manifest.json without its timings and the hashes of the files that carry them."""
    files = {name: entry for name, entry in manifest["files"].items() if name not in (*VIEWS, "report.json")}
    return {**{k: v for k, v in manifest.items() if k != "timings"}, "files": files}


def differences(old: Any, new: Any, path: str) -> list[str]:
    """One readable line per leaf that differs, named by its path (report.json.artifacts[1].evaluation...)."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(old.keys() | new.keys()):
            if key not in new or key not in old:
                lines.append(f"{path}.{key}: only in {'the first' if key in old else 'the second'} build")
            else:
                lines += differences(old[key], new[key], f"{path}.{key}")
        return lines
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        lines = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            lines += differences(a, b, f"{path}[{index}]")
        return lines
    return [] if old == new else [f"{path}: {old!r} != {new!r}"]


def computed(value: Any) -> Any:
    """A report (or any part of one) without the keys that record measurements: MEASURED and LATENCY_SETUP."""
    if isinstance(value, list):
        return [computed(item) for item in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        if key in MEASURED:
            continue
        if key == "latency" and isinstance(item, dict):
            item = {k: item[k] for k in LATENCY_SETUP if k in item}
        kept[key] = computed(item)
    return kept


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
