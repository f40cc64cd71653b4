"""Issue 27, reliability round two (third part): items 2, 3, 8, 22, 26, 27 and 28. Each test names its item
and failed before its fix.

Errors reach the user as one line through the real CLI in-process (`edgec.cli.main`), as in
test_reliability.py and test_reliability_more.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgec import cli
from edgec.compiler.errors import InputError
from edgec.compiler.output import write_build


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; its exit code, stdout and stderr."""
    with pytest.raises(SystemExit) as exited:
        cli.main(list(argv))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def one_error_line(err: str, prefix: str = "edgec: error: ") -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), err
    return lines[0]


# Item 27: `targets show` shows the hard limits an artifact is refused for, and a microcontroller's RAM in KB.
def test_targets_show_gives_ram_in_kb_and_the_hard_limits(capsys):
    code, out, _ = run(capsys, "targets", "show", "nano33ble")
    assert code == 0
    assert "0 MB RAM" not in out and "256 KB RAM" in out
    limits = next(line for line in out.splitlines() if line.strip().startswith("limits"))
    assert "flash <= 768 KB" in limits and "160 KB" in limits and "TFLite Micro built-in" in limits
    code, out, _ = run(capsys, "targets", "show", "rpi4")
    assert code == 0 and "RAM for the model <= 512 MB" in out


# Item 2: `-o . --force` from inside a build folder cannot replace the folder in use: one line, before any work.
def test_force_output_to_the_current_build_folder_is_one_line(tmp_path, monkeypatch, capsys):
    build = tmp_path / "demo-host"
    build.mkdir()
    manifest = json.dumps({"edgec_version": "0"})
    (build / "manifest.json").write_text(manifest)
    (build / "sub").mkdir()
    for where, out in ((build, "."), (build / "sub", "..")):
        monkeypatch.chdir(where)
        code, _, err = run(capsys, "compile", "-o", out, "--force", "--quiet")
        line = one_error_line(err)
        assert code == 2 and "current folder" in line and "Device or resource busy" not in line
    assert sorted(p.name for p in build.iterdir()) == ["manifest.json", "sub"]
    assert (build / "manifest.json").read_text() == manifest


def test_write_build_refuses_to_replace_the_current_folder(tmp_path, monkeypatch):  # item 2, the unit
    build = tmp_path / "demo-host"
    build.mkdir()
    (build / "manifest.json").write_text(json.dumps({"edgec_version": "0"}))
    monkeypatch.chdir(build)
    with pytest.raises(InputError, match="current folder"):
        write_build(Path("."), {"manifest.json": b"{}"}, passed=True)
    assert [p.name for p in build.iterdir()] == ["manifest.json"]


# Item 22: `-o ""` is not the current folder (Path("") is "."): refused as empty.
def test_empty_output_path_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "compile", "-o", "", "--quiet")
    assert code == 2 and "is empty" in one_error_line(err)
    assert list(tmp_path.iterdir()) == []
