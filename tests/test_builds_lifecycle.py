"""The build registry across a model's life: export/import verified by hash, regressions caught against the
promoted build, device history and its drift (the scripted history from compile to rollback:
test_builds_history.py)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from builds_fixtures import copy_build, ingest_run

from conftest import run_cli, zipped
from edgec.compiler import builds
from edgec.compiler.builds.hook import register_quietly
from edgec.compiler.builds.trend import drifts, trend
from edgec.compiler.errors import InputError


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_export_import_round_trip(demo_build, project, tmp_path):
    folder = copy_build(demo_build.path, project / "b1")
    build_id = builds.register_build(folder)
    archive = builds.export_build(build_id, tmp_path / "b1.zip")
    assert builds.export_build(build_id, tmp_path / "again.zip").read_bytes() == archive.read_bytes()
    done = builds.import_build(archive, tmp_path / "elsewhere" / "b1")
    assert done.exported_id == build_id and done.id != build_id  # another folder: another build
    assert _digests(done.path) == _digests(folder) and builds.get_build(done.id).path == str(done.path)
    # restored to its own folder, a build gets its id (and its promotions) back
    builds.promote(build_id, "rpi4")
    moved = folder.rename(tmp_path / "lost")
    assert builds.status(builds.get_build(build_id)) == "missing"
    cli = run_cli("builds", "import", str(archive), "-o", str(folder))
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip() == f"imported build {build_id} into {folder}, registered as build {build_id}"
    assert builds.status(builds.promoted("rpi4")) == "ok" and _digests(folder) == _digests(moved)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("artifact", "digits-cnn.int8.onnx does not match the sha256 and size its manifest records"),
        ("slip", "member '../evil.onnx' is not a plain file name"),
        ("extra", r"members and manifest disagree \(notes.txt\)"),
        ("missing", r"members and manifest disagree \(digits-cnn.int8.tflite\)"),
    ],
)
def test_import_refuses_a_tampered_archive_and_writes_nothing(demo_build, project, tmp_path, edit, message):
    build_id = builds.register_build(copy_build(demo_build.path, project / "b1"))
    with zipfile.ZipFile(builds.export_build(build_id, tmp_path / "b1.zip")) as source:
        members = {name: source.read(name) for name in source.namelist()}
    if edit == "artifact":  # a valid zip (its CRCs agree) whose model bytes are not the manifest's
        members["digits-cnn.int8.onnx"] = members["digits-cnn.int8.onnx"][:-1] + b"\0"
    elif edit == "slip":
        members["../evil.onnx"] = b"evil"
    elif edit == "extra":
        members["notes.txt"] = b"hello"
    else:
        del members["digits-cnn.int8.tflite"]
    hostile = tmp_path / "hostile.zip"
    hostile.write_bytes(zipped(members))
    destination = tmp_path / "imports" / "b1"
    with pytest.raises(InputError, match=message):
        builds.import_build(hostile, destination)
    assert not destination.exists() and not (tmp_path / "evil.onnx").exists()
    assert not (tmp_path / "imports").exists() or list((tmp_path / "imports").iterdir()) == []
    assert [b.id for b in builds.list_builds()] == [build_id]


def test_export_refuses_an_altered_build(demo_build, project, tmp_path):
    folder = copy_build(demo_build.path, project / "b1")
    build_id = builds.register_build(folder)
    (folder / "baseline.float32.onnx").write_bytes(b"changed")
    with pytest.raises(InputError, match=r"baseline\.float32\.onnx: does not match its manifest sha256"):
        builds.export_build(build_id, tmp_path / "b1.zip")
    assert list(tmp_path.glob("*.zip")) == [] and list(tmp_path.glob(".b1.zip.staging-*")) == []


def test_device_history_drift_and_trend_plot(demo_build, project, tmp_path):
    first, second = copy_build(demo_build.path, project / "b1"), copy_build(demo_build.path, project / "b2")
    ids = [builds.register_build(f) for f in (first, second)]
    assert ingest_run(first, "pi-lab", 1_700_000_000.0, 0.50, 0.99)
    assert ingest_run(first, "pi-lab", 1_700_003_600.0, 0.55, 0.99)  # +10%: within the 20% threshold
    assert not ingest_run(second, "pi-lab", 1_700_007_200.0, 0.80, 0.96)  # +45%, -3 points: drift (and a fail)
    series = {s.name: s for s in trend("rpi4")}
    assert set(series) == {"host onnx", "host tflite", "pi-lab onnx", "pi-lab tflite"}
    assert [p.p50_ms for p in series["pi-lab onnx"].points] == [0.50, 0.55, 0.80]
    assert [p.build for p in series["pi-lab onnx"].points] == [ids[0], ids[0], ids[1]]
    flagged = drifts(list(series.values()))
    assert sorted((d.series, d.metric) for d in flagged) == [
        ("pi-lab onnx", "accuracy"),
        ("pi-lab onnx", "latency"),
        ("pi-lab tflite", "accuracy"),
        ("pi-lab tflite", "latency"),
    ]
    assert all(d.before.time == 1_700_003_600.0 and d.after.build == ids[1] for d in flagged)
    assert "p50 0.550 -> 0.800 ms (+45.5%)" in {d.what for d in flagged}
    assert drifts(list(series.values()), latency_percent=50, accuracy_points=5) == []
    plot = tmp_path / "trend.png"
    shown = run_cli("builds", "show", ids[1], "--plot", str(plot))
    assert shown.returncode == 0, shown.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "4 drift step(s)" in shown.stdout
    assert "pi-lab        onnx      0.800    0.880    96.00%" in shown.stdout
    assert "drift: pi-lab onnx," in shown.stdout and "(+45.5%)" in shown.stdout


def test_a_registry_failure_warns_and_keeps_the_build(demo_build, project, capsys):
    folder = copy_build(demo_build.path, project / "b1")
    registry = project / ".edgec" / "registry.sqlite3"
    registry.parent.mkdir()
    registry.write_bytes(b"garbage" * 100)
    assert register_quietly(folder) is None
    warning = capsys.readouterr().err
    assert warning.startswith(f"edgec: warning: {folder} is written but not in the build registry (")
    assert warning.count("\n") == 1 and "edgec builds reindex" in warning
    ingest_run(folder, "pi-lab", 1_700_000_000.0, 0.5, 0.99)  # the ingest itself still lands in report.json
    assert json.loads((folder / "report.json").read_text())["device_runs"][0]["label"] == "pi-lab"
