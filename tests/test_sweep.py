"""`edgec sweep` on the local executor: every cell compiled, one summary with its Pareto fronts, a failing
cell reported without stopping the rest, and a re-run that redoes only what failed."""

from __future__ import annotations

import json

import pytest

from conftest import deterministic, run_cli, write_sweep
from edgec.compiler.errors import ConfigError
from edgec.compiler.sweep.spec import load_sweep
from edgec.compiler.sweep.summary import summary_rows

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')


def test_every_cell_is_compiled_and_summarised(local_sweep):
    folder, found = local_sweep
    rows = found["summary"]["rows"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert {(r["target"], r["variant"]) for r in ok} == {
        (t, v) for t in ("rpi4", "host-x86", "rpi5") for v in ("int8", "float", "sparse70")
    }
    assert len([r for r in ok if r["target"] == "rpi4"]) == 6  # ONNX and TFLite per variant
    for row in ok:
        assert (folder / "out" / "builds" / f"digits--{row['target']}--{row['variant']}" / row["file"]).is_file()
    by = {(r["target"], r["variant"], r["runtime"]): r for r in ok}
    int8, dense, sparse = (by[("host-x86", v, "onnxruntime")] for v in ("int8", "float", "sparse70"))
    assert sparse["compressed_bytes"] < 0.6 * int8["compressed_bytes"] < 0.2 * dense["compressed_bytes"]
    assert int8["accuracy"] > 0.97 and sparse["accuracy"] <= int8["accuracy"]
    # the float artifact is larger and no more accurate than int8 here: it cannot be on the size front
    assert not dense["front:compressed_bytes"] and sparse["front:compressed_bytes"]
    summary = (folder / "out" / "summary.md").read_text()
    assert summary.count("| digits |") == len(rows) and (folder / "out" / "summary.png").stat().st_size > 20_000


def test_a_failing_cell_is_reported_and_the_rest_finish(local_sweep):
    _, found = local_sweep
    done = found["done"]
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        line for line in done.stderr.splitlines() if line.startswith("edgec: error: 3 job(s) failed")
    ]
    failed = [r for r in found["summary"]["rows"] if r["status"] != "ok"]
    assert {r["target"] for r in failed} == {"rpi4", "host-x86", "rpi5"}
    assert all("unknown pass 'quantise'" in r["error"] and r["variant"] == "broken" for r in failed)


def test_rerun_redoes_only_what_failed(local_sweep, session_cache):
    folder, first = local_sweep
    path = write_sweep(folder, '\n[[variant]]\nname = "broken"\npipeline = "cleanup,quantize"\n')  # mended
    done = run_cli("sweep", str(path), "--cache-dir", str(session_cache))
    assert done.returncode == 0, done.stderr
    assert "12 job(s), 3 run, 9 reused" in done.stdout
    rows = json.loads((folder / "out" / "summary.json").read_text())["rows"]
    assert all(r["status"] == "ok" for r in rows)
    before = [r for r in first["summary"]["rows"] if r["status"] == "ok"]
    assert deterministic([r for r in rows if r["variant"] != "broken"]) == deterministic(before)


def test_sweep_file_errors_say_where(tmp_path):
    path = write_sweep(tmp_path, '\n[[variant]]\nname = "x"\ncalibraton = "entropy"\n')
    with pytest.raises(ConfigError, match=r"sweep\.toml: unknown key 'calibraton' in a \[\[variant\]\].*calibration"):
        load_sweep(path, None)
    path.write_text('targets = "rpi4"\n')
    with pytest.raises(ConfigError, match="`targets` must be a non-empty list"):
        load_sweep(path, None)
    path.write_text('targets = ["rpi4"]\n[[variant]]\nname = "a"\n[[variant]]\nname = "a"\n')
    with pytest.raises(ConfigError, match="two \\[\\[variant\\]\\] tables are named 'a'"):
        load_sweep(path, None)


def test_front_is_computed_per_target_and_axis():
    result = {"status": "ok", "verdict": "PASS"}
    artifacts = [
        {"runtime": "onnxruntime", "compressed_bytes": b, "estimated_latency_ms": ms, "accuracy": acc}
        for b, ms, acc in ((100, 1.0, 0.9), (50, 2.0, 0.9), (60, 0.5, 0.95), (200, 0.4, 0.80))
    ]
    rows = summary_rows([{**result, "model": "m", "target": "t", "variant": "v", "artifacts": artifacts}])
    assert [r["front:compressed_bytes"] for r in rows] == [False, True, True, False]
    assert [r["front:estimated_latency_ms"] for r in rows] == [False, False, True, True]
