"""Issue 27, reliability round two (continued): items 6, 7, 11, 13, 14 and 15. Each test names its item and
failed before its fix.

Errors reach the user as one line through the real CLI in-process (`edgec.cli.main`), as in
test_reliability.py; the bundle tests run `python x.bundle` and `edgec run` as a user would, since what they
guard against is code running in those processes."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from builds_fixtures import copy_build, harness_results
from cli_in_process import one_error_line, run

from conftest import run_cli
from edgec.compiler import builds
from edgec.runtimes import harness
from edgec.runtimes.bundle import INDEX, Bundle, BundleError

QUICK = ["--artifact", "onnx", "--runs", "1", "--warmup", "0", "--min-seconds", "0", "--max-seconds", "0.2"]


# Item 11: a bundle is data on the host and runs only its own listed code on the device. The hostile members
# drop a marker file when imported, so "was it executed?" is a file's existence, whatever the exit code.
def hostile_members(marker: Path) -> dict[str, bytes]:
    code = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('executed')\n".encode()
    return {"numpy.py": code, "json/__init__.py": code}


def with_members(bundle: Path, out: Path, extra: dict[str, bytes], list_them: bool) -> Path:
    """A copy of `bundle` plus `extra` members; with `list_them`, bundle.json lists them with their sha256s
    (what someone rewriting the index as well would produce)."""
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        index = json.loads(source.read(INDEX))
        if list_them:
            index["files"].update({name: hashlib.sha256(data).hexdigest() for name, data in extra.items()})
        for info in source.infolist():
            target.writestr(info, json.dumps(index).encode() if info.filename == INDEX else source.read(info))
        for name, data in extra.items():
            target.writestr(name, data)
    return out


def test_a_bundle_with_an_unlisted_member_is_refused_everywhere_before_it_runs(demo_bundle, tmp_path):  # item 11
    marker = tmp_path / "executed"
    hostile = with_members(demo_bundle, tmp_path / "hostile.bundle", hostile_members(marker), list_them=False)
    with pytest.raises(BundleError, match=r"member 'numpy\.py' is not listed in bundle\.json"):
        Bundle(hostile)
    done = run_cli("run", str(hostile), "-o", str(tmp_path / "r.json"))
    assert done.returncode == 2, done.stderr
    assert "is not listed in bundle.json" in one_error_line(done.stderr)
    direct = [sys.executable, str(hostile), "--out", str(tmp_path / "r.json"), *QUICK]
    done = subprocess.run(direct, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "is not listed in bundle.json" in one_error_line(done.stderr, "harness: ")
    assert not marker.exists() and not (tmp_path / "r.json").exists()
    from edgec.runtimes.bundle_main import unlisted

    assert unlisted(["a", INDEX, "a"], {"a": "0"}) == "member 'a' appears twice"  # zipfile and zipimport differ


def test_a_bundle_never_shadows_a_module_even_one_its_index_lists(demo_bundle, tmp_path):  # item 11
    marker = tmp_path / "executed"
    listed = with_members(demo_bundle, tmp_path / "listed.bundle", hostile_members(marker), list_them=True)
    out = tmp_path / "r.json"
    done = subprocess.run([sys.executable, str(listed), "--out", str(out), *QUICK], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), "a member of the bundle was imported as a module of the host"
    assert [r["artifact"] for r in json.loads(out.read_text())["runs"]] == ["onnx"]  # the worker started too


# Item 7: an unwritable --out is refused before any artifact is measured, as a usage error (exit 2), never as
# a failed run (exit 1) after minutes of measuring.
def test_harness_refuses_an_unwritable_out_before_running(demo_bundle, tmp_path, capsys, monkeypatch):  # item 7
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(harness, "run_harness", lambda *a, **k: pytest.fail("measured before checking --out"))
    for out in (blocker / "results.json", tmp_path / "gone" / "results.json", tmp_path):
        assert harness.main([str(demo_bundle), "--out", str(out)]) == 2
        line = one_error_line(capsys.readouterr().err, "harness: ")
        assert f"--out {out}: " in line and ("cannot write there" in line or "is a folder" in line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # no .partial left behind


def test_edgec_run_refuses_an_unwritable_output_before_running(demo_bundle, tmp_path, capsys, monkeypatch):  # item 7
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran the harness before checking -o"))
    code, _, err = run(capsys, "run", str(demo_bundle), "-o", str(blocker / "results.json"))
    assert code == 2 and "cannot write there (Not a directory)" in one_error_line(err)


# Items 6 and 15: results.json comes from a device, so it is untrusted input.
@pytest.fixture
def build_copy(demo_build, tmp_path, project) -> Path:
    return copy_build(demo_build.path, project / "build")


def test_ingest_of_deeply_nested_results_is_one_line(build_copy, tmp_path, capsys):  # item 6
    results = tmp_path / "results.json"
    for depth in (100_000, 40):  # past the JSON decoder's recursion limit, and past what the harness writes
        good = harness_results(json.loads((build_copy / "report.json").read_text()), 1.7e9, 0.5, 0.99)
        text = json.dumps({**good, "environment": {**good["environment"], "x": "HERE"}})
        results.write_text(text.replace('"HERE"', "[" * depth + "]" * depth))
        before = (build_copy / "report.json").read_bytes()
        code, _, err = run(capsys, "report", "ingest", str(results), "--build", str(build_copy))
        assert code == 2, err
        assert "nested deeper" in one_error_line(err)
        assert (build_copy / "report.json").read_bytes() == before


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_ingest_refuses_non_finite_figures(build_copy, tmp_path, capsys, literal):  # item 15
    report = json.loads((build_copy / "report.json").read_text())
    results = tmp_path / "results.json"
    results.write_text(json.dumps(harness_results(report, 1.7e9, 0.5, 0.99)).replace("0.55", literal, 1))
    before = (build_copy / "report.json").read_bytes()
    code, _, err = run(capsys, "report", "ingest", str(results), "--build", str(build_copy))
    assert code == 2, err
    assert "results.runs[0].latency.p90_ms is " in one_error_line(err) and "not a finite number" in err
    assert (build_copy / "report.json").read_bytes() == before  # nothing written: later reads still pass
    fine = harness_results(report, 1.7e9, 0.5, 0.99)
    results.write_text(json.dumps(fine))
    assert run(capsys, "report", "ingest", str(results), "--build", str(build_copy))[0] == 0  # still ingestible


# Items 13 and 14: the build registry.
def test_a_truncated_registry_says_it_is_damaged_and_how_to_rebuild_it(build_copy, capsys):  # item 14
    build_id = builds.register_build(build_copy)
    registry = builds.registry_path()
    registry.write_bytes(b"")
    for sidecar in registry.parent.glob(registry.name + "-*"):
        sidecar.unlink()
    code, out, err = run(capsys, "builds", "list")
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert f"{registry}: the build registry is damaged" in line and "run `edgec builds reindex`" in line
    assert registry.stat().st_size == 0  # not silently re-created empty over the evidence
    builds.reindex()
    assert [b.id for b in builds.list_builds()] == [build_id]


def test_promote_refuses_an_altered_or_deleted_build_and_list_shows_them(demo_build, project, capsys):  # item 13
    altered, deleted, intact = [copy_build(demo_build.path, project / name) for name in ("a", "d", "i")]
    ids = {name: builds.register_build(folder) for name, folder in (("a", altered), ("d", deleted), ("i", intact))}
    with (altered / "digits-cnn.int8.onnx").open("ab") as stream:
        stream.write(b"\0")
    shutil.rmtree(deleted)
    code, _, err = run(capsys, "builds", "promote", ids["a"], "--target", "rpi4")
    assert code == 2
    assert "digits-cnn.int8.onnx is missing or does not match its manifest sha256" in one_error_line(err)
    code, _, err = run(capsys, "builds", "promote", ids["d"], "--target", "rpi4")
    assert code == 2 and f"its folder {deleted} is missing" in one_error_line(err)
    assert builds.promoted("rpi4") is None and builds.history("rpi4") == []
    code, out, _ = run(capsys, "builds", "list")
    assert code == 0
    states = {line.split()[0]: line.split()[6] for line in out.splitlines()[1:]}
    assert states == {ids["a"]: "altered", ids["d"]: "missing", ids["i"]: "ok"}
    assert run(capsys, "builds", "promote", ids["i"], "--target", "rpi4")[0] == 0
    assert builds.promoted("rpi4").id == ids["i"]
