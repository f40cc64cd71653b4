"""The build registry: registration from real build folders, promotion and rollback, concurrent writers, and a
damaged database rebuilt from the folders with nothing lost. Copies of the session's demo build stand in for
separate compiles (a copy is a new build: its id includes its folder)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from builds_fixtures import copy_build, ingest_run

from conftest import run_cli
from edgec.compiler import builds
from edgec.compiler.builds.record import folder_id
from edgec.compiler.errors import InputError


def test_registration_reads_the_build_folder(demo_build, project):
    folder = copy_build(demo_build.path, project / "b1")
    before = time.time()
    build_id = builds.register_build(folder)
    record = builds.get_build(build_id)
    report, manifest = demo_build.report, json.loads((folder / "manifest.json").read_text())
    assert record.path == str(folder) and record.target == "rpi4" and record.model == "digits-cnn"
    assert before <= record.created <= time.time()
    assert record.model_sha256 == manifest["inputs"]["model"]["sha256"] == report["source"]["sha256"]
    assert record.calibration_sha256 == report["data"]["calibration"]["sha256"]
    assert record.pipelines == manifest["pipeline"] and set(record.pipelines) == {"onnx", "tflite"}
    assert record.tools["onnxruntime"] == report["tools"]["onnxruntime"] and record.verdict == "pass"
    assert [a["file"] for a in record.artifacts] == ["digits-cnn.int8.onnx", "digits-cnn.int8.tflite"]
    for artifact, entry in zip(record.artifacts, report["artifacts"], strict=True):
        assert artifact["sha256"] == entry["sha256"] and artifact["bytes"] == entry["size_bytes"]
        assert Path(artifact["path"]).read_bytes() == (demo_build.path / artifact["file"]).read_bytes()
        metrics = record.metrics[entry["name"]]
        assert metrics["top1"] == entry["evaluation"]["accuracy"] > 0.9
        assert metrics["sqnr_db"] == entry["evaluation"]["drift"]["sqnr_db"]
        assert metrics["host_p50_ms"] == entry["latency"]["p50_ms"] > 0
    assert (project / ".edgec" / "registry.sqlite3").is_file()
    # idempotent: registering again keeps one row and the first time
    assert builds.register_build(folder) == build_id
    assert [(b.id, b.created) for b in builds.list_builds()] == [(build_id, record.created)]


def test_ids_are_per_folder_and_stable_across_ingest(demo_build, project):
    first, second = copy_build(demo_build.path, project / "b1"), copy_build(demo_build.path, project / "b2")
    ids = builds.register_build(first), builds.register_build(second)
    assert ids[0] != ids[1] and all(len(i) == 12 for i in ids)
    assert ingest_run(first, "pi-lab", 1_700_000_000.0, 0.5, 0.99)  # rewrites report.json and the manifest
    assert folder_id(first) == ids[0]
    runs = builds.get_build(ids[0]).device_runs
    assert [(r["label"], r["started"]) for r in runs] == [("pi-lab", 1_700_000_000.0)]
    assert runs[0]["artifacts"]["onnx"]["p50_ms"] == 0.5 and runs[0]["artifacts"]["tflite"]["top1"] == 0.99
    run = json.loads((first / "report.json").read_text())["device_runs"][0]
    assert builds.record_device_run(ids[1][:8], {**run, "label": "pi-desk"}) == ids[1]  # the API, without ingest
    assert builds.get_build(ids[1]).device_runs[0]["label"] == "pi-desk"
    assert builds.get_build(ids[0][:6]).id == ids[0] and builds.get_build(second).id == ids[1]
    with pytest.raises(InputError, match="no registered build has this id"):
        builds.get_build("ffffffffffff")


def test_list_and_show_on_the_command_line(demo_build, project):
    ids = [builds.register_build(copy_build(demo_build.path, project / f"b{i}")) for i in range(2)]
    builds.promote(ids[1], "rpi4")
    listed = run_cli("builds", "list", "--target", "rpi4")
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()[1:]
    assert [r.split()[0] for r in rows] == [ids[0], "*"] and rows[1].split()[1] == ids[1]
    assert "onnx 99.44%, tflite 99.44%" in rows[0] and " ok " in rows[0]
    assert run_cli("builds", "list", "--target", "rpi5").stdout.startswith("no builds registered")
    shown = run_cli("builds", "show", ids[1][:8])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"build {ids[1]}: digits-cnn for rpi4, pass, promoted")
    assert "digits-cnn.int8.tflite" in shown.stdout and "device runs: none" in shown.stdout


def test_promote_and_rollback_walk_the_history(demo_build, project):
    a, b, c, d = [builds.register_build(copy_build(demo_build.path, project / n)) for n in "abcd"]
    with pytest.raises(InputError, match="no build is promoted"):
        builds.rollback("rpi4")
    builds.promote(a, "rpi4")
    with pytest.raises(InputError, match=f"build {a} is the only promoted build; there is no previous one"):
        builds.rollback("rpi4")
    for build in (b, b, c):  # promoting the current build again changes nothing
        builds.promote(build, "rpi4")
    assert builds.promoted("rpi4").id == c and builds.promoted("rpi5") is None
    done = builds.rollback("rpi4")
    assert (done.current.id, done.previous.id) == (b, c) and builds.promoted("rpi4").id == b
    builds.promote(d, "rpi4")  # a, b, d
    assert [builds.rollback("rpi4").current.id for _ in range(2)] == [b, a]
    with pytest.raises(InputError, match="no previous one"):
        builds.rollback("rpi4")
    actions = [(action, build) for _, action, build, _ in builds.history("rpi4")]
    walked = [("promote", a), ("promote", b), ("promote", c), ("rollback", b), ("promote", d)]
    assert actions == [*walked, ("rollback", b), ("rollback", a)]
    with pytest.raises(InputError, match="compiled for rpi4, not rpi5"):
        builds.promote(a, "rpi5")
    failed = copy_build(demo_build.path, project / "failed")
    report = json.loads((failed / "report.json").read_text())
    (failed / "report.json").write_text(json.dumps({**report, "gate": {**report["gate"], "passed": False}}))
    with pytest.raises(InputError, match="failed its gate; only a passing build can be promoted"):
        builds.promote(builds.register_build(failed), "rpi4")
    assert builds.promoted("rpi4").id == a


def test_rollback_on_the_command_line_names_the_files_to_ship(demo_build, project):
    old, new = [builds.register_build(copy_build(demo_build.path, project / n)) for n in ("old", "new")]
    assert run_cli("builds", "promote", old, "--target", "rpi4").returncode == 0
    assert run_cli("builds", "promote", new, "--target", "rpi4").returncode == 0
    done = run_cli("builds", "rollback", "--target", "rpi4")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"rpi4: rolled back from build {new} to build {old}")
    for artifact in builds.get_build(old).artifacts:
        assert f"{project / 'old' / artifact['file']}  sha256 {artifact['sha256']}" in done.stdout
    again = run_cli("builds", "rollback", "--target", "rpi4")
    assert again.returncode == 2 and again.stdout == ""
    expected = f"rpi4: build {old} is the only promoted build; there is no previous one to roll back to"
    assert again.stderr == f"edgec: error: {expected}\n"


def test_a_replaced_folder_cannot_be_rolled_back_to(demo_build, project):
    old = builds.register_build(copy_build(demo_build.path, project / "old"))
    new = builds.register_build(copy_build(demo_build.path, project / "new"))
    builds.promote(old, "rpi4")
    builds.promote(new, "rpi4")
    (project / "old" / "digits-cnn.int8.onnx").write_bytes(b"tampered")
    with pytest.raises(InputError, match="does not match its registered sha256"):
        builds.rollback("rpi4")
    assert builds.promoted("rpi4").id == new  # a refused rollback changes nothing


def test_concurrent_registrations_all_land(demo_build, project):
    """Six processes register 4 builds each, plus one build all of them register: no row lost, none doubled."""
    folders = [[copy_build(demo_build.path, project / f"p{p}-{i}") for i in range(4)] for p in range(6)]
    shared = copy_build(demo_build.path, project / "shared")
    code = (  # every process waits for the same instant, so the registrations really contend
        "import sys, time; from pathlib import Path; from edgec.compiler.builds import register_build\n"
        "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))\n"
        "for folder in sys.argv[2:]: print(register_build(Path(folder)))"
    )
    argv = [sys.executable, "-c", code, str(time.time() + 2.0), str(shared)]
    procs = [subprocess.Popen([*argv, *map(str, mine)], stdout=subprocess.PIPE, text=True) for mine in folders]
    printed = [proc.communicate(timeout=120)[0].split() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    expected = {folder_id(f) for f in [shared, *(f for mine in folders for f in mine)]}
    assert len(expected) == 25 and {i for ids in printed for i in ids} == expected
    assert {b.id for b in builds.list_builds()} == expected
    wal = sqlite3.connect(project / ".edgec" / "registry.sqlite3").execute("PRAGMA journal_mode").fetchone()
    assert wal == ("wal",)
    journal = (project / ".edgec" / "journal.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["build"] for line in journal) == sorted(expected)  # one line per build


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_registry_is_one_line_and_reindex_restores_it(demo_build, project, damage):
    a, b, c = [copy_build(demo_build.path, project / "builds" / n) for n in "abc"]
    ids = [builds.register_build(f) for f in (a, b, c)]
    ingest_run(b, "pi-lab", 1_700_000_000.0, 0.5, 0.99)
    ingest_run(b, "pi-lab", 1_700_000_600.0, 0.6, 0.99)
    builds.promote(ids[0], "rpi4")
    builds.promote(ids[2], "rpi4")
    builds.promote(ids[1], "rpi4")
    builds.rollback("rpi4")
    before = {r.id: (r.created, builds.get_build(r.id).device_runs) for r in builds.list_builds()}
    registry = project / ".edgec" / "registry.sqlite3"
    data = registry.read_bytes()
    damaged = b"this is not a database\n" * 200 if damage == "garbage" else data[: len(data) // 2]
    registry.write_bytes(damaged)
    for suffix in ("-wal", "-shm"):
        Path(f"{registry}{suffix}").unlink(missing_ok=True)

    listed = run_cli("builds", "list")
    assert listed.returncode == 2 and listed.stderr.count("\n") == 1
    assert listed.stderr.startswith(f"edgec: error: {registry}: the build registry is damaged (")
    assert "run `edgec builds reindex`" in listed.stderr
    assert registry.read_bytes() == damaged  # a failed read never rewrites or deletes it

    done = run_cli("builds", "reindex")
    assert done.returncode == 0, done.stderr
    assert "registered 3 build(s), 2 device run(s), 4 promotion action(s)" in done.stdout
    aside = [p for p in registry.parent.glob("registry.sqlite3.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged and f"moved aside to {aside[0]}" in done.stdout
    after = {r.id: (r.created, builds.get_build(r.id).device_runs) for r in builds.list_builds()}
    assert after == before and sorted(after) == sorted(ids)
    assert builds.promoted("rpi4").id == ids[2]
    assert builds.rollback("rpi4").current.id == ids[0]  # the history came back, not just the current build


def test_reindex_skips_staging_folders_and_keeps_a_healthy_registry_aside(demo_build, project):
    build = copy_build(demo_build.path, project / "out" / "b")
    copy_build(demo_build.path, project / "out" / ".b.staging-x1y2")  # an interrupted write
    done = builds.reindex([project / "out"])
    assert done.builds == [folder_id(build)] and done.moved_aside is None and done.damaged is None
    again = builds.reindex()
    assert again.builds == done.builds and again.moved_aside.name.startswith("registry.sqlite3.previous-")
    assert sqlite3.connect(again.moved_aside).execute("SELECT id FROM builds").fetchall() == [(done.builds[0],)]
    with pytest.raises(InputError, match="no such folder"):
        builds.reindex([project / "nowhere"])


def test_the_promoted_baseline_holds_only_builds_of_the_same_model(demo_build, project):
    from edgec.compiler.builds.hook import promoted_baseline

    assert promoted_baseline("rpi4", "digits-cnn") is None  # nothing promoted: no baseline, no error
    promoted = builds.register_build(copy_build(demo_build.path, project / "a"))
    builds.promote(promoted, "rpi4")
    assert builds.promoted_folder("rpi4", "digits-cnn") == (promoted, project / "a")
    assert promoted_baseline("rpi4", "digits-cnn") == (project / "a", f"promoted build {promoted}")
    expected = f"no build of other-net is promoted .*\\(build {promoted} of digits-cnn is\\)"
    with pytest.raises(InputError, match=expected):
        builds.promoted_folder("rpi4", "other-net")
    assert promoted_baseline("rpi4", "other-net") is None and promoted_baseline("rpi5", "digits-cnn") is None
