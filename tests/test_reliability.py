"""Issue 27, reliability round two: each test names the item it covers and failed before its fix.

Errors reach the user as one line through the real CLI in-process (`edgec.cli.main`), as in
test_error_messages.py; everything stops before an expensive step (tiny models, no compile where a unit
suffices)."""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import tempfile
from pathlib import Path

import pytest
from cli_in_process import one_error_line
from cli_in_process import run as run_cli_in_process

from conftest import make_context
from edgec.compiler.config import load_config_defaults
from edgec.compiler.errors import ConfigError, InputError
from edgec.compiler.output import write_build

MANIFEST = json.dumps({"edgec_version": "0"}).encode()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run the CLI in-process; its exit code and stderr."""
    code, _, err = run_cli_in_process(capsys, *argv)
    return code, err


# Item 1: a cache on another filesystem than $TMPDIR (tmpfs /tmp, cache on disk). No second filesystem here:
# $TMPDIR, the cache and the output are three folders, and a rename between two of them raises EXDEV as the
# kernel would. (On this checkout's pinned onnxruntime both tests already passed before this branch: edgec's
# scratch entries and ORT's calibration cache are written beside their destination; they keep it that way.)
@pytest.fixture
def two_filesystems(tmp_path, monkeypatch) -> Path:
    tmpfs = tmp_path / "tmpfs"
    tmpfs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpfs))

    def device(path: str | os.PathLike[str]) -> str:
        try:
            return Path(path).absolute().relative_to(tmp_path).parts[0]
        except ValueError:
            return "elsewhere"

    def across(real):
        def rename(src, dst, *args, **kwargs):
            if device(src) != device(dst):
                raise OSError(errno.EXDEV, "Invalid cross-device link", str(src), None, str(dst))
            return real(src, dst, *args, **kwargs)

        return rename

    monkeypatch.setattr(os, "replace", across(os.replace))
    monkeypatch.setattr(os, "rename", across(os.rename))
    with pytest.raises(OSError, match="cross-device"):  # the simulation works
        os.replace(tempfile.mkdtemp(), tmp_path / "disk")
    return tmp_path / "disk"


def test_quantize_with_the_cache_on_another_filesystem_than_tmpdir(two_filesystems, tiny_onnx, tiny_data):
    from edgec.compiler.data import Dataset
    from edgec.compiler.passes.quantize import Quantize

    disk = two_filesystems
    (disk / "scratch").mkdir(parents=True)
    model, _ = tiny_onnx
    ctx = dataclasses.replace(make_context(Dataset({"image": tiny_data}, None, "tiny")), scratch=disk / "scratch")
    first = Quantize().run(model, ctx).model
    assert list((disk / "scratch").glob("ranges-*.entry"))  # the ranges landed in the cache's scratch
    again = Quantize().run(model, ctx).model  # and are read back from there
    assert first.to_bytes() == again.to_bytes()


def test_demo_compile_with_the_cache_and_output_on_another_filesystem(two_filesystems, monkeypatch):  # item 1
    from edgec.compiler.api import CompileOptions, compile

    disk = two_filesystems
    monkeypatch.setenv("EDGEC_PROJECT", str(disk / "project"))
    options = CompileOptions(output=disk / "build", cache_dir=disk / "cache", progress=False, search=False)
    assert compile(options).passed
    assert (disk / "build" / "report.json").is_file() and list((disk / "cache" / "scratch").glob("ranges-*"))


# Item 4: a non-UTF-8 edgec.toml: one line for the command that reads it; the others do not read it.
def test_non_utf8_config_is_one_line_and_other_commands_ignore_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "edgec.toml").write_bytes(b'[compile]\ntarget = "caf\xe9"\n')
    code, err = run(capsys, "targets", "list")
    assert code == 0, err
    code, err = run(capsys, "compile")
    assert code == 2
    assert "edgec.toml: not UTF-8 text" in one_error_line(err)
    code, err = run(capsys, "--config", str(tmp_path / "edgec.toml"), "compile")
    assert code == 2
    assert "not UTF-8 text (byte 0xe9" in one_error_line(err)


# Item 5: a list where a path is expected.
def test_a_list_for_a_config_path_is_a_config_error(tmp_path, monkeypatch, capsys):
    path = tmp_path / "edgec.toml"
    path.write_text('[compile]\ncalib = ["a.npz", "b.npz"]\n')
    with pytest.raises(ConfigError, match=r"calib must be one path as a string, got list"):
        load_config_defaults(path, {"compile": {"calib"}})
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, "compile")
    assert code == 2
    assert "[compile] calib must be one path" in one_error_line(err)


# Item 9: a failed build beside an existing one never deletes a user's folder at <out>.failed.
def test_failed_build_never_replaces_a_user_folder_at_out_failed(tmp_path):
    out = tmp_path / "build"
    write_build(out, {"good.txt": b"good", "manifest.json": MANIFEST}, passed=True)
    mine = tmp_path / "build.failed"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(InputError, match=r"build.failed: exists and is not an edgec build; refusing"):
        write_build(out, {"bad.txt": b"bad", "manifest.json": MANIFEST}, passed=False)
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert (out / "good.txt").read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "build.failed"]  # no staging left behind
    # an earlier failed build there is still replaced
    (mine / "thesis.tex").unlink()
    mine.rmdir()
    write_build(out, {"bad.txt": b"1", "manifest.json": MANIFEST}, passed=False)
    assert write_build(out, {"bad.txt": b"2", "manifest.json": MANIFEST}, passed=False) == mine
    assert (mine / "bad.txt").read_bytes() == b"2"


# Item 10: two compiles to the same new -o without --force: the second to finish fails, the first stays.
def test_two_compiles_to_one_new_output_without_force_do_not_replace_each_other(tmp_path, monkeypatch):
    from edgec.compiler import api

    out = tmp_path / "build"
    real = api.check_destination

    def meanwhile(path: Path, force: bool) -> None:
        real(path, force)  # passes: the folder does not exist yet ...
        write_build(path, {"first.txt": b"first", "manifest.json": MANIFEST}, passed=True)  # ... the other lands

    monkeypatch.setattr(api, "check_destination", meanwhile)
    options = api.CompileOptions(output=out, use_cache=False, progress=False, search=False, promoted_baseline=False)
    with pytest.raises(InputError, match=r"-o .*build: exists now .*pass --force"):
        api.compile(options)
    assert sorted(p.name for p in out.iterdir()) == ["first.txt", "manifest.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["build"]  # no staging left behind


def test_write_build_without_replace_claims_the_destination(tmp_path):  # item 10, the unit
    out = tmp_path / "build"
    assert write_build(out, {"a.txt": b"1", "manifest.json": MANIFEST}, passed=True, replace=False) == out
    with pytest.raises(InputError, match="exists now"):
        write_build(out, {"a.txt": b"2", "manifest.json": MANIFEST}, passed=False, replace=False)
    assert (out / "a.txt").read_bytes() == b"1"
    assert [p.name for p in tmp_path.iterdir()] == ["build"]


# Item 16: budgets that are not finite, negative, or an agreement outside [0, 1] are refused in one line.
@pytest.mark.parametrize(
    "flag,value",
    [
        ("--max-drop", "nan"),
        ("--max-drop", "inf"),
        ("--max-drop", "1e400"),
        ("--max-drop", "-1"),
        ("--max-drop", "-inf"),
        ("--baseline-max-drop", "nan"),
        ("--min-agreement", "1.5"),
        ("--min-agreement", "-0.1"),
        ("--min-agreement", "nan"),
    ],
)
def test_non_finite_or_negative_budgets_are_refused(tmp_path, capsys, flag, value):
    # a missing --calib would fail next: the budget must be refused first, before anything is read
    code, err = run(capsys, "compile", flag, value, "--calib", str(tmp_path / "missing.npz"))
    assert code == 2
    line = one_error_line(err)
    assert flag in line and "must be a finite number" in line, line


def test_non_finite_budgets_are_refused_by_the_api_and_report_diff(tmp_path, capsys):  # item 16
    from edgec.compiler.api import CompileOptions

    for field, value in (("max_drop", math.nan), ("max_drop", -1.0), ("min_agreement", 2.0)):
        with pytest.raises(ConfigError, match="must be a finite number"):
            CompileOptions(**{field: value})
    code, err = run(capsys, "report", "diff", "--max-drop", "nan", str(tmp_path), str(tmp_path))
    assert code == 2
    assert "--max-drop" in one_error_line(err)


# Item 19: a NaN top-1 is a regression, never a pass.
def _report(accuracy: float | None) -> dict:
    artifact = {"name": "onnx", "evaluation": {"accuracy": accuracy}, "size_bytes": 100}
    return {"artifacts": [artifact], "data": {"evaluation": {"sha256": "x"}}}


@pytest.mark.parametrize("base,new", [(0.9, math.nan), (math.nan, 0.9), (math.nan, math.nan)])
def test_a_nan_top1_is_a_regression(base, new):
    from edgec.compiler.report_diff import diff_reports, regression_checks, render_diff

    found = diff_reports(_report(base), _report(new), 0.0, ("base", "new"))
    assert found.regressed
    assert "not a number" in found.changes[0].reason
    assert any(not check.passed for check in regression_checks(found))
    assert "not a number" in render_diff(found)
    assert not diff_reports(_report(0.9), _report(0.9), 0.0, ("base", "new")).regressed


# Item 24: a factory compiled without --weights warns that its weights are the factory's own initialization.
def test_factory_without_weights_warns_loudly(tmp_path, monkeypatch, capsys, tiny_data, session_cache):
    import numpy as np
    import torch

    from edgec_test_models import make_tiny

    calib = tmp_path / "calib.npz"
    np.savez(calib, input=tiny_data)
    factory = "edgec_test_models:make_tiny"
    common = ["--input-shape", "1,1,8,8", "--calib", str(calib), "--cache-dir", str(session_cache), "--quiet"]
    # the gate is not this test's subject: a random network judged on 13 held-out samples flips one on some hosts'
    # kernels (VNNI: 12/13 agree), so its budget is loose here
    common += ["--min-agreement", "0.5"]
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, "compile", factory, *common, "-o", str(tmp_path / "random"))
    assert code == 0, err
    warning = [line for line in err.splitlines() if line.strip()]
    assert len(warning) == 1, err
    assert warning[0].startswith(f"edgec: warning: {factory}: no --weights given"), err
    assert "factory's own initialization" in warning[0] and "pass --weights FILE" in warning[0]
    weights = tmp_path / "w.pt"
    torch.save(make_tiny().state_dict(), weights)
    code, err = run(capsys, "compile", factory, *common, "--weights", str(weights), "-o", str(tmp_path / "trained"))
    assert code == 0 and "warning" not in err, err
