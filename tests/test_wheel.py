"""The wheel installs and works on its own (issue 26): built offline from a copy of the checkout, installed
into a fresh venv that sees the test environment's dependencies but not the editable install, then the
console script, every module and the demo compile run from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # builds and installs the wheel, then compiles the demo from it
SKIP = (".venv", ".git", ".mypy", "build", "*.egg-info", "__pycache__", "results", ".edgec", ".pytest_cache")
IMPORT_ALL = """
import importlib, pkgutil, sys
import edgec
assert edgec.__file__.startswith(sys.argv[1]), edgec.__file__  # the wheel's copy, not the checkout
names = [m.name for m in pkgutil.walk_packages(edgec.__path__, "edgec.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def _run(*args: str | Path, env: dict[str, str], cwd: Path, timeout: int = 120) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline (no index, no build isolation) from a copy of the checkout, so the checkout
    gets no build/ or egg-info litter."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*SKIP))
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp, source,
         env=env, cwd=tmp)  # fmt: skip
    (built,) = tmp.glob("edgec-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A venv without pip whose site-packages holds only the wheel, plus a .pth line adding this environment's
    site-packages: that directory's own .pth files (the editable install's finder among them) are not run."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    site = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", env={}, cwd=venv).strip()
    )
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "test-environment.pth").write_text("".join(f"{path}\n" for path in sorted(ours)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"PIP_NO_INDEX": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "EDGEC_PROJECT": str(venv.parent)}
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel, env=env, cwd=venv)
    return venv, env


def test_wheel_holds_the_package_and_its_data_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.split("/")[0] not in ("edgec", wheel.name.split("-")[0] + "-0.1.0.dist-info")]
    assert not [n for n in names if n.startswith(("edgec/tests/", "edgec/bench/", "edgec/docs/", "edgec/setup.py"))]
    for needed in (
        "edgec/compiler/api.py",
        "edgec/compiler/builds/registry.py",
        "edgec/compiler/cost/analysis.py",
        "edgec/compiler/report.schema.json",
        "edgec/targets/rpi4.toml",
        "edgec/models/data/digits.npz",
        "edgec/constraints.txt",
    ):
        assert needed in names, needed
    packaged = {n.removeprefix("edgec/") for n in names if n.endswith(".py")}
    checkout = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if not set(p.relative_to(ROOT).parts) & {
        ".venv", "tests", "bench", "build", "setup.py"}}  # fmt: skip
    assert packaged == checkout


def test_installed_wheel_runs(installed):
    venv, env = installed
    site = _run(venv / "bin" / "python", "-c", "import edgec, os; print(os.path.dirname(edgec.__file__))", env=env,
                cwd=venv).strip()  # fmt: skip
    assert Path(site).is_relative_to(venv), site
    edgec = venv / "bin" / "edgec"
    assert "compile" in _run(edgec, "--help", env=env, cwd=venv)
    assert "rpi4" in _run(edgec, "targets", "list", env=env, cwd=venv)
    assert int(_run(venv / "bin" / "python", "-c", IMPORT_ALL, site, env=env, cwd=venv, timeout=300)) > 100
    out = venv.parent / "demo"
    _run(edgec, "compile", "--target", "host-x86", "-o", out, "--no-cache", env=env, cwd=venv, timeout=300)
    assert (out / "report.json").is_file()
