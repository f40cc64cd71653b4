"""Every error edgec raises reaches the user as one line on stderr (what was wrong, where, what to do) and its
exit code, never a traceback unless --debug asks for one. One real trigger per error class runs through the
real CLI in-process (`edgec.cli.main`); the completeness test fails when an error class is added without a row.
Triggers are the cheapest user action that raises each class: errors before any pass runs, tiny 8x8 models."""

from __future__ import annotations

import ast
import importlib
import json
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import pytest

from conftest import run_cli
from edgec import cli
from edgec.cli_sweep import SweepFailed
from edgec.compiler import errors
from edgec.compiler.constraints import ConstraintError
from edgec.compiler.target_checks import BudgetError
from edgec.runtimes import harness
from edgec.runtimes.bundle import BundleError
from edgec.targets.profile import PROFILE_DIR, ProfileError

ROOT = Path(__file__).resolve().parent.parent
INTERNAL = "internal error"  # the table's name for an unexpected exception: not a class a user can act on
Files = dict[str, Path]


@dataclass(frozen=True)
class Case:
    """One trigger: the class it raises, the argv that raises it, and what the user must see."""

    error: type[Exception] | str
    args: Callable[[Files, Path], list[str]]  # (module files, this test's tmp_path) -> argv
    code: int
    message: str  # regex on stderr: names what was wrong, where, and what to do
    program: str = "edgec"  # or "harness": the device-side CLI, which prints `harness: ...`
    patch: Callable[[pytest.MonkeyPatch], None] | None = None


def _missing(module: str) -> Callable[[pytest.MonkeyPatch], None]:
    """Make `module` fail to import (as if its extra were not installed) while everything else imports."""

    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        real = importlib.import_module

        def import_module(name: str, package: str | None = None):
            if name == module:
                raise ModuleNotFoundError(f"No module named {module!r}")
            return real(name, package)

        monkeypatch.setattr(importlib, "import_module", import_module)

    return patch


def _crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug inside edgec: a function `edgec targets list` calls raises an exception nobody anticipated."""

    def known_targets() -> list[str]:
        raise RuntimeError("profile index exploded")

    monkeypatch.setattr("edgec.targets.profile.known_targets", known_targets)


def _sweep_with_a_broken_cell(_f: Files, tmp: Path) -> list[str]:
    (tmp / "s.toml").write_text('targets = ["host-x86"]\n[[variant]]\nname = "broken"\npipeline = "nosuch"\n')
    return ["sweep", str(tmp / "s.toml"), "--cache-dir", str(tmp / "cache"), "--quiet"]


def _diff_with_missing_artifact(f: Files, tmp: Path) -> list[str]:
    """A base build with an artifact the new build lacks (as after changing --target): a regression."""
    report = json.loads((f["failed"] / "report.json").read_text())
    report["artifacts"][0]["name"] = "tflite"
    base = tmp / "base.json"
    base.write_text(json.dumps(report))
    return ["report", "diff", str(base), str(f["failed"])]


def _ingest_over_budget(f: Files, tmp: Path) -> list[str]:
    """Device results whose p90 misses the build's latency budget; ingested into a copy of the build."""
    build = shutil.copytree(f["failed"], tmp / "build")
    return ["report", "ingest", str(f["results"]), "--build", str(build)]


def _argv(*items: str) -> Callable[[Files, Path], list[str]]:
    """An argv whose items name the module's files by key ("tiny") and the test's tmp_path as "tmp/..."."""
    return lambda f, t: [str(t / i[4:]) if i.startswith("tmp/") else str(f.get(i, i)) for i in items]


# A compile or sweep that gets far enough to run a pass passes --quiet: in a log (as here) each finished stage
# prints a progress line (issue 27 item 26), and this table is about the error line.
CASES: dict[str, Case] = {
    "InputError": Case(errors.InputError, _argv("compile", "tmp/absent.onnx"), 2, r"absent\.onnx: file not found"),
    "InputError (-o)": Case(
        errors.InputError,
        lambda f, t: ["compile", str(f["tiny"]), "-o", str(f["calib"] / "b")],
        2,
        r"-o .*calib\.npz/b: cannot create it \(.*calib\.npz is not a writable folder\); choose another path",
    ),
    "ConfigError": Case(
        errors.ConfigError,
        _argv("compile", "tiny", "--pipeline", "cleanup,quantise"),
        2,
        r"unknown pass 'quantise' \(did you mean 'quantize'\?\); known passes: ",
    ),
    "ConfigError (--cache-dir)": Case(
        errors.ConfigError,
        _argv("compile", "tiny", "--cache-dir", "calib"),
        2,
        r"pass cache .*calib\.npz: cannot write there \(Not a directory\); give a writable folder or URL",
    ),
    "PipelineError": Case(
        errors.PipelineError,
        _argv("compile", "tiny", "--pipeline", "onnx-to-tf,quantize"),
        2,
        r"pass 'quantize' accepts a onnx model but pass 'onnx-to-tf' produces a tf model; reorder the passes "
        r"\(--pipeline\)",
    ),
    "ToolchainError": Case(
        errors.ToolchainError,
        _argv("compile", "custom_op", "--calib", "calib4"),
        3,
        r"float baseline of .*custom_op\.onnx does not run in onnxruntime: .*com\.example:Frobnicate",
    ),
    "MissingDependencyError": Case(
        errors.MissingDependencyError,
        _argv("inspect", "tiny"),
        4,
        r"onnx is not installed \(.*\); install it with: pip install 'edgec\[compiler\]'",
        patch=_missing("onnx"),
    ),
    "GateError": Case(
        errors.GateError,
        _argv(
            "compile", "tiny", "--calib", "calib", "--target", "slow", "--min-agreement", "0", "-o", "tmp/b", "--quiet"
        ),
        1,
        r"drift gate failed: tiny\.int8\.onnx: estimated_latency_ms .* \(budget <= 0\.0001\) OVER BUDGET; "
        r"the build is in .*b, its report\.md says where",
    ),
    "SweepFailed": Case(SweepFailed, _sweep_with_a_broken_cell, 1, r"1 job\(s\) failed \(demo--host-x86--broken\)"),
    "GateError (report show)": Case(
        errors.GateError,
        _argv("report", "show", "failed"),
        1,
        r"failed: the build failed its gate: tiny\.int8\.onnx: estimated_latency_ms .* OVER BUDGET",
    ),
    "GateError (report diff)": Case(
        errors.GateError,
        _diff_with_missing_artifact,
        1,
        r"failed regressed against .*base\.json: tflite: present_in_baseline .* OVER BUDGET",
    ),
    "GateError (report ingest)": Case(
        errors.GateError,
        _ingest_over_budget,
        1,
        r"results\.json: the device run failed its checks: onnx: device_p90_ms .* \(budget <= 0\.0001\) OVER",
    ),
    "RemoteError": Case(
        errors.RemoteError,
        _argv("run", "bundle", "--device", "ssh://nobody@127.0.0.1:1"),
        5,
        r"ssh://nobody@127\.0\.0\.1:1: cannot connect \(.*Connection refused\); check the host, port and key: "
        r"`ssh -p 1 nobody@127\.0\.0\.1` must log in without a password",
    ),
    "ConstraintError": Case(
        ConstraintError,
        _argv(
            "compile",
            "edgec_test_models:make_with_abs",
            "--input-shape",
            "1,1,8,8",
            "--calib",
            "calib",
            "--target",
            "coral-edgetpu",
            "--min-agreement",
            "0.5",
            "-o",
            "tmp/b",
            "--quiet",
        ),
        5,
        r"make_with_abs\.int8\.tflite cannot run on coral-edgetpu \(1 violation\(s\)\): op #\d+ ABS is not in "
        r"the Edge TPU op set; nothing was written: .*another --target",
    ),
    "BudgetError": Case(
        BudgetError,
        _argv("compile", "tiny", "--calib", "calib", "--target", "small_ram", "-o", "tmp/b", "--quiet"),
        5,
        r"tiny\.int8\.onnx does not fit tiny-board: RAM needed .*, available 1\.0 KiB .*; try: ",
    ),
    "BudgetError (inspect)": Case(
        BudgetError,
        _argv("inspect", "tiny", "--target", "small_ram"),
        5,
        r"tiny does not fit .*small_ram\.toml: RAM needed .*available 1\.0 KiB",
    ),
    "ProfileError (targets show)": Case(
        ProfileError,
        _argv("targets", "show", "rpi9"),
        2,
        r"unknown target 'rpi9' \(did you mean 'rpi\d'\?\); known targets: .*rpi4",
    ),
    "ProfileError (--target file)": Case(
        ProfileError,
        _argv("compile", "tiny", "--target", "typo"),
        2,
        r"--target: .*typo\.toml: unknown key 'threadz' \(did you mean 'threads'",
    ),
    "BundleError (harness)": Case(
        BundleError,
        _argv("garbage"),
        2,
        r"garbage\.bundle: not an edgec bundle \(.*\); make one with `edgec bundle BUILD`",
        program="harness",
    ),
    "BundleError (edgec run)": Case(
        BundleError,
        _argv("run", "tmp/gone.bundle"),
        2,
        r"gone\.bundle: no such bundle; make one with `edgec bundle BUILD -o gone\.bundle`",
    ),
    "click usage error": Case(
        click.UsageError,
        _argv("compile", "--forc"),
        2,
        r"No such option '--forc'\. Did you mean '--force'\? \(see 'edgec compile --help'\)",
    ),
    INTERNAL: Case(
        INTERNAL,
        _argv("targets", "list"),
        70,
        r"RuntimeError: profile index exploded; this is a bug in edgec, re-run with --debug for the traceback",
        patch=_crash,
    ),
}


def _profile(folder: Path, name: str, *edits: tuple[str, str]) -> Path:
    """x86-vnni (a whole profile, not one that extends another) with a few lines changed: a user's own board
    profile (`--target my-board.toml`)."""
    text = (PROFILE_DIR / "x86-vnni.toml").read_text()
    for old, new in (('id = "x86-vnni"', 'id = "tiny-board"'), *edits):
        assert old in text, old
        text = text.replace(old, new)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_onnx, tiny_data) -> Files:
    """The inputs of the triggers, and the one (failed) tiny build, bundle and device run some of them need."""
    from edgec.compiler.api import CompileOptions, compile
    from edgec.compiler.bundle_writer import write_bundle

    folder = tmp_path_factory.mktemp("errors")
    f = {"tiny": tiny_onnx[1], "calib": folder / "calib.npz", "calib4": folder / "calib4.npz"}
    np.savez(f["calib"], image=tiny_data)
    np.savez(f["calib4"], x=tiny_data.reshape(-1, 4)[:64])
    f["custom_op"] = _custom_op_model(folder / "custom_op.onnx")
    f["slow"] = _profile(folder, "slow", ("max_latency_ms = 20.0", "max_latency_ms = 0.0001"))
    f["small_ram"] = _profile(folder, "small_ram", ("[budgets]", "[constraints]\nram_kb = 1\n\n[budgets]"))
    f["typo"] = _profile(folder, "typo", ("\nthreads = ", "\nthreadz = "))
    f["garbage"] = folder / "garbage.bundle"
    f["garbage"].write_bytes(b"print('not a bundle')\n")
    settings = {"min_agreement": 0.0, "cache_dir": folder / "cache", "progress": False}
    f["failed"] = compile(
        CompileOptions(str(f["tiny"]), str(f["slow"]), f["calib"], output=folder / "failed", **settings)
    ).path
    f["bundle"] = write_bundle(f["failed"], folder / "failed.bundle", f["calib"], samples=8).path
    f["results"] = folder / "results.json"
    quick = ["--runs", "1", "--min-seconds", "0", "--max-seconds", "0.2"]
    assert harness.main([str(f["bundle"]), "--out", str(f["results"]), *quick]) == 0
    return f


def _custom_op_model(path: Path) -> Path:
    """A valid ONNX model (the checker accepts any op of a custom domain) that ONNX Runtime cannot run."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example")], "g", [x], [y])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    onnx.save(helper.make_model(graph, opset_imports=opsets), path)
    return path


@pytest.fixture
def run(monkeypatch, capfd, tmp_path, files) -> Callable[..., tuple[int, str, str]]:
    """Run a CLI in this process as its console script would: (exit code, stdout, stderr).

    In a scratch folder (no ./edgec.toml is picked up) with a private pass cache, and sys.path restored
    afterwards (a module:factory source puts the current folder on it)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGEC_CACHE_DIR", str(files["calib"].parent / "cache"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    capfd.readouterr()  # only what this command prints

    def invoke(args: list[str], program: str = "edgec") -> tuple[int, str, str]:
        if program == "harness":
            code = harness.main(args)
        else:
            with pytest.raises(SystemExit) as exited:
                cli.main(args)
            code = exited.value.code
        out, err = capfd.readouterr()
        return code, out, err

    return invoke


@pytest.mark.parametrize("name", list(CASES))
def test_each_error_is_one_line_with_its_exit_code(name, run, files, tmp_path, monkeypatch):
    case = CASES[name]
    if case.patch:
        case.patch(monkeypatch)
    code, out, err = run(case.args(files, tmp_path), case.program)
    prefix = {"edgec": "edgec: error: ", "harness": "harness: "}[case.program]
    prefix = "edgec: internal error: " if case.error == INTERNAL else prefix
    assert "Traceback" not in out + err, err
    assert err.startswith(prefix) and err.count("\n") == 1 and err.endswith("\n"), err
    assert re.search(case.message, err), err
    assert code == case.code, err
    if isinstance(case.error, type) and issubclass(case.error, errors.EdgecError):
        assert code == case.error.exit_code  # the table agrees with the class, and the class with the README


def _edgec_error_classes_in_source() -> set[str]:
    """Every class defined in edgec's code (not tests) that derives from EdgecError, found by reading the
    source, so a subclass in a module nobody imported yet is still found."""
    bases: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        if {".venv", "tests", "build"} & set(path.relative_to(ROOT).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {ast.unparse(base).rpartition(".")[2] for base in node.bases}
    family = {"EdgecError"}
    while grown := {name for name, parents in bases.items() if parents & family} - family:
        family |= grown
    return family - {"EdgecError"}


def _subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in {direct, *_subclasses(direct)}}


def test_every_error_class_has_a_row():
    in_table = {case.error for case in CASES.values()}
    in_source = _edgec_error_classes_in_source()
    assert {"ConstraintError", "BudgetError"} <= in_source  # the scan sees beyond compiler/errors.py
    assert in_source <= {cls.__name__ for cls in in_table if isinstance(cls, type)}, "add a row for each"
    loaded = {cls for cls in _subclasses(errors.EdgecError) if cls.__module__.startswith("edgec.")}
    assert loaded <= in_table, f"no row for {sorted(c.__name__ for c in loaded - in_table)}"
    assert {ProfileError, BundleError, click.UsageError, INTERNAL} <= in_table


@pytest.mark.parametrize("name", ["InputError", "ConfigError", "MissingDependencyError", "BudgetError (inspect)"])
def test_debug_adds_the_traceback_and_keeps_the_line_and_code(name, run, files, tmp_path, monkeypatch):
    case = CASES[name]
    if case.patch:
        case.patch(monkeypatch)
    code, _, err = run(["--debug", *case.args(files, tmp_path)])
    *trace, line = err.splitlines()
    assert trace[0] == "Traceback (most recent call last):" and f"{case.error.__name__}: " in trace[-1], err
    assert line.startswith("edgec: error: ") and re.search(case.message, line), err
    assert code == case.code


def test_an_unexpected_exception_is_one_line_exit_70_and_its_traceback_only_with_debug(run, monkeypatch):
    _crash(monkeypatch)
    code, _, err = run(["targets", "list"])
    assert code == cli.INTERNAL_ERROR == 70 and "Traceback" not in err
    assert err == (
        "edgec: internal error: RuntimeError: profile index exploded; this is a bug in edgec, re-run with --debug "
        "for the traceback and report it\n"
    )
    debug_code, _, debug_err = run(["--debug", "targets", "list"])
    assert debug_code == 70 and debug_err.startswith("Traceback (most recent call last):")
    assert "in known_targets" in debug_err and debug_err.endswith(err)  # the frame that raised, then the line


def test_a_real_process_prints_the_same_single_line(tmp_path):
    """What the installed entry point prints, not just main(): one line, exit 2, no traceback; --debug adds it."""
    args = ["compile", str(tmp_path / "absent.onnx")]
    done = run_cli(*args, cwd=tmp_path, cache=tmp_path / "cache")
    assert done.returncode == 2 and done.stderr == f"edgec: error: {tmp_path / 'absent.onnx'}: file not found\n"
    debug = run_cli("--debug", *args, cwd=tmp_path, cache=tmp_path / "cache")
    assert debug.returncode == 2 and "Traceback (most recent call last):" in debug.stderr
    assert debug.stderr.endswith(done.stderr) and not list(tmp_path.glob("build*"))
