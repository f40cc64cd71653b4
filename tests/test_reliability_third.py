"""Issue 27, reliability round two (third part): items 2, 3, 8, 22, 26, 27 and 28. Each test names its item
and failed before its fix.

Errors reach the user as one line through the real CLI in-process (`edgec.cli.main`), as in
test_reliability.py and test_reliability_more.py."""

from __future__ import annotations

import errno
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from cli_in_process import one_error_line, run

from conftest import run_cli, zipped
from edgec.compiler.errors import InputError
from edgec.compiler.output import write_build
from edgec.compiler.progress import Progress


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


# Item 3: a full filesystem (ENOSPC, simulated: only writes under `root` fail) under the output or the cache:
# one line naming the path, a non-zero exit, and no staging folder or temporary file left behind.
@pytest.fixture
def full_disk(monkeypatch):
    """Make every file write under the returned callable's argument fail with ENOSPC, as on a full disk."""

    def fill(root: Path) -> None:
        real_bytes, real_text = Path.write_bytes, Path.write_text

        def check(path: Path) -> None:
            if Path(os.path.abspath(path)).is_relative_to(root):
                raise OSError(errno.ENOSPC, "No space left on device", str(path))

        def write_bytes(self: Path, data: bytes) -> int:
            check(self)
            return real_bytes(self, data)

        def write_text(self: Path, data: str, *args: object, **kwargs: object) -> int:
            check(self)
            return real_text(self, data, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Path, "write_bytes", write_bytes)
        monkeypatch.setattr(Path, "write_text", write_text)

    return fill


def test_full_disk_under_the_output_is_one_line_and_leaves_nothing(tmp_path, full_disk, capsys, session_cache):
    disk = tmp_path / "disk"
    disk.mkdir()
    full_disk(disk)
    out = disk / "build"
    code, _, err = run(capsys, "compile", "-o", str(out), "--cache-dir", str(session_cache), "--no-search", "--quiet")
    line = one_error_line(err)
    assert code == 2 and str(out) in line and "filesystem is full" in line, line
    assert list(disk.iterdir()) == []  # neither the build nor its staging folder


def test_full_disk_under_the_cache_is_one_line_and_leaves_nothing(tmp_path, full_disk, capsys):
    cache = tmp_path / "cache"
    full_disk(cache)
    code, _, err = run(capsys, "compile", "-o", str(tmp_path / "build"), "--cache-dir", str(cache), "--quiet")
    line = one_error_line(err)
    assert code == 2 and f"pass cache {cache}" in line and "filesystem is full" in line, line
    assert not [p for p in (cache / "passes").rglob("*") if p.is_file() or p.name.startswith(".")]
    assert not (tmp_path / "build").exists()


def test_full_disk_under_scratch_and_a_url_cache_leaves_nothing(tmp_path, full_disk):  # item 3, the units
    from edgec.compiler.cache_store import FsspecStore, write_scratch
    from edgec.compiler.errors import ConfigError

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    full_disk(tmp_path)
    with pytest.raises(ConfigError, match="filesystem is full"):
        write_scratch(scratch / "ranges-x.entry", b"payload")
    assert list(scratch.iterdir()) == []
    store = FsspecStore(f"file://{tmp_path / 'url-cache'}")
    store.fs.pipe_file = lambda path, data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left", path))
    with pytest.raises(ConfigError, match="filesystem is full"):
        store.write("ab" * 32, {}, b"payload")
    assert not [p for p in (tmp_path / "url-cache").rglob("*") if p.is_file()]


# Item 8: a corrupt .pt2 gives its one error line and nothing before it (torch logged an 18-line traceback).
# A subprocess, as a user runs it: torch's log handler writes to the real stderr, which capsys does not see.
@pytest.mark.parametrize("kind", ["random bytes", "zip without a program"])
def test_corrupt_pt2_is_exactly_one_line(tmp_path, kind):
    path = tmp_path / "model.pt2"
    if kind == "random bytes":
        path.write_bytes(os.urandom(4096))
    else:
        path.write_bytes(zipped({"archive/data.pkl": b"garbage", "archive/version": b"1"}))
    done = run_cli("compile", str(path), "-o", str(tmp_path / "build"), "--quiet")
    line = one_error_line(done.stderr)
    assert done.returncode == 2 and "not a torch.export program" in line and "warnings above" not in line, line


# Item 26: in a log (stderr not a terminal, no --quiet) every finished stage prints one line with its seconds;
# a terminal keeps its live display, and --quiet stays silent.
class _Log(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _stages(progress: Progress) -> None:
    with progress.stage("cleanup"):
        pass
    with progress.counter("evaluating onnx", 3) as counter:
        counter.update(3)


def test_progress_in_a_log_is_one_line_per_finished_stage_with_its_time():
    log = _Log(tty=False)
    _stages(Progress(None, log))
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and all(re.fullmatch(r"edgec: .+ done in \d+\.\d s", line) for line in lines), lines
    assert lines[0].startswith("edgec: cleanup done in") and lines[1].startswith("edgec: evaluating onnx: 3 done")
    terminal = _Log(tty=True)
    _stages(Progress(None, terminal))
    assert terminal.getvalue().startswith("edgec: cleanup ...\n") and "\redgec: evaluating onnx 3/3 (100%)" in (
        terminal.getvalue()
    )
    quiet = _Log(tty=False)
    _stages(Progress(False, quiet))
    assert quiet.getvalue() == ""


def test_a_compile_in_a_log_prints_its_stages(tmp_path, capsys, session_cache):  # item 26, through the CLI
    out = tmp_path / "build"
    code, _, err = run(capsys, "compile", "-o", str(out), "--cache-dir", str(session_cache), "--no-search")
    assert code == 0, err
    stages = [line for line in err.splitlines() if re.fullmatch(r"edgec: .+ done in \d+\.\d s", line)]
    assert any(line.startswith("edgec: evaluating float baseline") for line in stages), err
    assert len(stages) == len(err.splitlines()), err  # nothing else: no counters redrawn with \r
    code, _, err = run(capsys, "compile", "-o", str(out), "--force", "--cache-dir", str(session_cache), "--quiet")
    assert code == 0 and err == ""


# Item 28: a diff across targets, or against a build that failed its gate, says so before its verdict.
def test_report_diff_warns_across_targets_and_for_a_failed_gate(demo_build, tmp_path, capsys):
    report = json.loads((demo_build.path / "report.json").read_text())
    (tmp_path / "base.json").write_text(json.dumps(report))
    other = {**report, "target": {**report["target"], "id": "nano33ble"}}
    (tmp_path / "other.json").write_text(json.dumps(other))
    failed = {**report, "gate": {**report["gate"], "passed": False}}
    (tmp_path / "failed.json").write_text(json.dumps(failed))
    base, new = str(tmp_path / "base.json"), str(tmp_path / "other.json")
    code, out, _ = run(capsys, "report", "diff", base, new)
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "different targets (rpi4 -> nano33ble)" in warnings[0], out
    code, out, _ = run(capsys, "report", "diff", str(tmp_path / "failed.json"), base)
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "the base build" in warnings[0] and "failed its own gate" in warnings[0], out
    code, out, _ = run(capsys, "report", "diff", base, base)
    assert code == 0 and "warning" not in out  # like with like: nothing to warn about


# Item 22, the small ones: each is one line through the CLI, before any work.
@pytest.mark.parametrize(
    "pipeline, message",
    [
        ("cleanup,quantize{exclude_nodes=[}", "a value cannot hold brackets or quotes"),
        ("cleanup,quantize{calibration=minmax,calibration=entropy}", "option 'calibration' is given twice"),
        ("cleanup,quantize,quantize", "pass 'quantize' appears twice"),
    ],
)
def test_malformed_or_repeated_pipeline_specs_are_refused(tiny_onnx, tmp_path, capsys, pipeline, message):
    _, model = tiny_onnx
    code, _, err = run(capsys, "compile", str(model), "--pipeline", pipeline, "-o", str(tmp_path / "b"), "--quiet")
    assert code == 2 and message in one_error_line(err)
    assert not (tmp_path / "b").exists()


def test_input_shape_for_an_onnx_source_is_refused_not_ignored(tiny_onnx, tmp_path, capsys):  # item 22
    _, model = tiny_onnx
    code, _, err = run(capsys, "compile", str(model), "--input-shape", "1,1,16,16", "-o", str(tmp_path / "b"))
    line = one_error_line(err)
    assert code == 2 and "--input-shape" in line and "would be ignored" in line and "drop it" in line


@pytest.mark.parametrize("suffix, message", [(".keras", "not a Keras file"), (".h5", "not a Keras .h5 file")])
def test_random_bytes_keras_file_is_not_a_keras_file(tmp_path, capsys, suffix, message):  # item 22
    path = tmp_path / f"model{suffix}"
    path.write_bytes(os.urandom(3000))
    code, _, err = run(capsys, "compile", str(path), "-o", str(tmp_path / "b"), "--quiet")
    line = one_error_line(err)
    assert code == 2 and message in line and "File not found" not in line, line


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_a_0d_data_array_is_named_as_such_not_empty(tiny_onnx, tmp_path, capsys, suffix):  # item 22
    _, model = tiny_onnx
    calib = tmp_path / f"calib{suffix}"
    if suffix == ".npz":
        np.savez(calib, image=np.array(3.0, np.float32))
    else:
        np.save(calib, np.array(3.0, np.float32))
    code, _, err = run(capsys, "compile", str(model), "--calib", str(calib), "-o", str(tmp_path / "b"), "--quiet")
    line = one_error_line(err)
    assert code == 2 and "is a 0-d array (one value, 3.0), not rows of samples" in line and "empty" not in line


def test_builds_diff_warns_across_targets(demo_build, tmp_path, monkeypatch, capsys):  # item 28, builds diff
    from builds_fixtures import copy_build

    monkeypatch.setenv("EDGEC_PROJECT", str(tmp_path / "project"))
    base, other = copy_build(demo_build.path, tmp_path / "base"), copy_build(demo_build.path, tmp_path / "other")
    report = json.loads((other / "report.json").read_text())
    report["target"]["id"] = "rpi5"  # the same numbers, as if compiled for another board
    (other / "report.json").write_text(json.dumps(report))
    code, out, err = run(capsys, "builds", "reindex", str(base), str(other))
    assert code == 0, err
    code, out, err = run(capsys, "builds", "diff", str(base), str(other))
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "different targets (rpi4 -> rpi5)" in warnings[0], out + err


def test_weights_that_cannot_fit_the_flash_are_refused_before_any_conversion(tmp_path):  # item 20
    """A Gemm with 4 M weights for stm32h7 (1536 KB flash): refused from one count, before the import passes
    serialize the model to fingerprint it, and nothing is cached."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros((2000, 2000), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w"], ["y"])],
        "huge",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2000])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2000])],
        [weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "huge.onnx")
    np.save(tmp_path / "calib.npy", np.zeros((4, 2000), np.float32))
    cache, calib = tmp_path / "cache", str(tmp_path / "calib.npy")
    done = run_cli("compile", str(tmp_path / "huge.onnx"), "--target", "stm32h7", "--calib", calib,
                   "-o", str(tmp_path / "out"), cache=cache)  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert "has 4,000,000 weights: at least 3,906 KB as int8, over stm32h7's 1,536 KB flash budget" in lines[0]
    assert not (tmp_path / "out").exists() and not list(cache.glob("passes/*/*"))  # no pass ran
