"""The build folder: written whole or not at all; a good build is never destroyed."""

from __future__ import annotations

import json

import pytest

from edgec.compiler.errors import InputError
from edgec.compiler.output import check_destination, write_build

MANIFEST = json.dumps({"edgec_version": "0"}).encode()


def test_new_build_is_written_and_staging_removed(tmp_path):
    out = tmp_path / "build"
    assert write_build(out, {"a.txt": b"1", "manifest.json": MANIFEST}, passed=True) == out
    assert (out / "a.txt").read_bytes() == b"1"
    assert [p.name for p in tmp_path.iterdir()] == ["build"]  # no staging or old folders left behind


def test_existing_build_needs_force_and_is_replaced_whole(tmp_path):
    out = tmp_path / "build"
    write_build(out, {"old.txt": b"old", "manifest.json": MANIFEST}, passed=True)
    with pytest.raises(InputError, match="--force"):
        check_destination(out, force=False)
    check_destination(out, force=True)
    write_build(out, {"new.txt": b"new", "manifest.json": MANIFEST}, passed=True)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "new.txt"]


def test_failed_build_never_replaces_a_good_one(tmp_path):
    out = tmp_path / "build"
    write_build(out, {"good.txt": b"good", "manifest.json": MANIFEST}, passed=True)
    landed = write_build(out, {"bad.txt": b"bad", "manifest.json": MANIFEST}, passed=False)
    assert landed == tmp_path / "build.failed"
    assert (out / "good.txt").read_bytes() == b"good" and (landed / "bad.txt").exists()


def test_force_refuses_a_folder_that_is_not_a_build(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(InputError, match="not an edgec build"):
        check_destination(tmp_path, force=True)
    file_out = tmp_path / "precious.txt"
    with pytest.raises(InputError, match="not a directory"):
        check_destination(file_out, force=True)


def test_a_crash_while_writing_leaves_nothing(tmp_path):
    out = tmp_path / "build"
    with pytest.raises(OSError):
        write_build(out, {"ok.txt": b"1", "sub/missing/x.txt": b"2"}, passed=True)
    assert list(tmp_path.iterdir()) == []
