"""`--executor ray` on a real cluster (a head and two worker nodes on loopback, tests/ray_cluster.py): a sweep
gives the same numbers as the local executor, and a worker killed mid-sweep loses only its job, which the
re-run redoes, leaving a complete summary; a compile's fallback search evaluates its candidates on the
cluster's workers with the same trials as in one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray_cluster import RayCluster, start_cluster

from conftest import row_differences, search_numbers, write_sweep
from edgec.compiler.api import CompileOptions, compile

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    started = start_cluster()
    try:
        yield started
    finally:
        started.stop()


def sweep(cluster: RayCluster, path: Path, cache: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "edgec.cli", "sweep", str(path), "--executor", "ray"]
    return subprocess.Popen(
        cluster.command(*command, "--address", cluster.address, "--cache-dir", str(cache)),
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows_of(folder: Path) -> list[dict]:
    return json.loads((folder / "out" / "summary.json").read_text())["rows"]


def test_ray_gives_the_local_numbers(cluster, local_sweep, tmp_path):
    done = sweep(cluster, write_sweep(tmp_path), tmp_path / "cache")
    _, err = done.communicate(timeout=900)
    assert done.returncode == 0, err
    local = [r for r in local_sweep[1]["summary"]["rows"] if r["status"] == "ok"]
    assert not row_differences(rows_of(tmp_path), local)
    results = [json.loads(p.read_text()) for p in (tmp_path / "out" / "jobs").glob("*.json")]
    assert len(results) == 9 and all(r["status"] == "ok" for r in results)


def test_a_worker_killed_mid_sweep_loses_only_its_job(cluster, local_sweep, tmp_path):
    path, cache = write_sweep(tmp_path), tmp_path / "cache"
    running = sweep(cluster, path, cache)
    victim = cluster.task_process_on_node1("ray::run_job")
    os.kill(victim, signal.SIGKILL)
    out, err = running.communicate(timeout=900)
    assert running.returncode == 1, out + err
    assert "1 job(s) failed" in err and "see summary.md, re-run to redo only those" in err
    (lost,) = [r for r in rows_of(tmp_path) if r["status"] != "ok"]
    assert "Ray lost the job: WorkerCrashedError" in lost["error"]
    again = sweep(cluster, path, cache)
    _, err = again.communicate(timeout=900)
    assert again.returncode == 0, err
    local = [r for r in local_sweep[1]["summary"]["rows"] if r["status"] == "ok"]
    assert not row_differences(rows_of(tmp_path), local)  # complete, and the same numbers
    reran = [json.loads(p.read_text()) for p in (tmp_path / "out" / "jobs").glob("*.json")]
    assert len(reran) == 9 and all(r["status"] == "ok" for r in reran)


def test_a_search_on_the_cluster_gives_the_in_process_trials(cluster, digits_npz, tmp_path, session_cache):
    source, shape = "edgec.models.hard:make_sensitive_head_digits", "1,1,8,8"
    data = {"calib": digits_npz["calib"], "eval": digits_npz["eval"]}
    here = compile(
        CompileOptions(source, input_shapes=((1, 1, 8, 8),), output=tmp_path / "here", cache_dir=session_cache, **data)
    )
    args = [source, "--input-shape", shape, "--calib", str(data["calib"]), "--eval", str(data["eval"])]
    args += ["-o", str(tmp_path / "ray"), "--cache-dir", str(tmp_path / "cache"), "--progress"]
    command = [sys.executable, "-m", "edgec.cli", "compile", *args, "--executor", "ray", "--jobs", "2"]
    done = subprocess.run(
        cluster.command(*command, "--address", cluster.address), env=cluster.env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "sensitivity trials on ray" in done.stderr  # handed to the cluster: the head has no CPU, so workers ran them
    (on_ray,) = json.loads((tmp_path / "ray" / "report.json").read_text())["search"].values()
    (in_process,) = here.report["search"].values()
    assert search_numbers(on_ray) == search_numbers(in_process) and on_ray["chosen"]["float_nodes"] == ["node_linear"]
