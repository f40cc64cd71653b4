"""Shared fixtures: the expensive things (exports, the demo compile) happen once per session."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Compiles in the suite judge Arm targets' ONNX artifacts on exact QDQ arithmetic (any host, same numbers);
# emulating the target core costs seconds per artifact and has its own tests (test_emulation.py), which
# ask for it explicitly. Subprocess compiles inherit this.
os.environ.setdefault("EDGEC_EMULATION", "off")


def run_cli(*args: str, cwd: Path | None = None, cache: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real `edgec` entry point in a subprocess, as a user would."""
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    if cache is not None:
        env["EDGEC_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [sys.executable, "-m", "edgec.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


@pytest.fixture(scope="session", autouse=True)
def project_registry(tmp_path_factory) -> Path:
    """Compiles and ingests register their builds in $EDGEC_PROJECT/.edgec: a scratch project for the session,
    never the checkout (a test that inspects a registry sets its own with monkeypatch)."""
    folder = tmp_path_factory.mktemp("project")
    os.environ["EDGEC_PROJECT"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One pass cache for the whole run: under pytest-xdist every worker shares it (the cache is safe for
    concurrent compiles, test_interruption.py), so a fixture both workers build is converted once."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-cache"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def digits_npz(tmp_path_factory) -> dict[str, Path]:
    """The demo's calibration and evaluation splits as user-style .npz files."""
    from edgec.compiler.frontends.demo import demo_split

    folder = tmp_path_factory.mktemp("digits")
    paths = {}
    for split in ("calib", "eval"):
        data = demo_split(split)
        paths[split] = folder / f"{split}.npz"
        np.savez(paths[split], image=data.inputs["image"], labels=data.labels)
    return paths


@pytest.fixture(scope="session")
def tiny_torch():
    from edgec_test_models import make_tiny

    return make_tiny()


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory, tiny_torch):
    """The tiny model exported once through the real torch-to-onnx pass; returns (OnnxModel, path)."""
    import torch

    from edgec.compiler.kinds import TorchModel
    from edgec.compiler.passes.torch_to_onnx import TorchToOnnx

    model = TorchModel(tiny_torch, (torch.zeros(1, 1, 8, 8),), ("image",), "tiny")
    result = TorchToOnnx().run(model, make_context())
    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    path.write_bytes(result.model.to_bytes())
    return result.model, path


@pytest.fixture(scope="session")
def tiny_data():
    """64 random but fixed 8x8 inputs (no labels)."""
    rng = np.random.default_rng(0)
    return rng.random((64, 1, 8, 8), dtype=np.float32)


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory, session_cache):
    """The demo compiled once for rpi4 through the Python API."""
    from edgec.compiler.api import CompileOptions, compile

    out = tmp_path_factory.mktemp("builds") / "demo-rpi4"
    return compile(CompileOptions(target="rpi4", output=out, cache_dir=session_cache, progress=False))


@pytest.fixture(scope="session")
def demo_bundle(demo_build, tmp_path_factory) -> Path:
    """The demo build packed by `edgec bundle`, as a user would."""
    out = tmp_path_factory.mktemp("bundle") / "demo.bundle"
    done = run_cli("bundle", str(demo_build.path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


def zipped(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of `members` exactly as given (names, order, method): for hand-made hostile archives."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buffer.getvalue()


def naive_int8(source: str, calib: Path, evaluation: Path, out: Path, cache: Path | None, **options):
    """Compile `source` with the fallback search off: the gate's verdict on naive int8 is what the real-kind
    model tests judge, not the search's rescue."""
    from edgec.compiler.api import CompileOptions, compile

    return compile(
        CompileOptions(source=source, calib=calib, eval=evaluation, output=out, cache_dir=cache, progress=False,
                       search=False, **options)
    )  # fmt: skip


def make_context(calibration=None, target: str = "host-x86", training=None):
    from edgec.compiler.passes.base import Context
    from edgec.compiler.progress import Progress
    from edgec.targets.profile import load_profile

    return Context(load_profile(target), calibration, Progress(enabled=False), training=training)


# Sweeps (test_sweep.py, test_sweep_ray.py): the demo over 3 targets x 3 variants, run once locally.
SWEEP = """
output = "out"
targets = ["rpi4", "host-x86", "rpi5"]

[[model]]
name = "digits"

[[variant]]
name = "int8"

[[variant]]
name = "float"
quantize = false

[[variant]]
name = "sparse70"
prune = "unstructured:0.7"
search = false
"""


def write_sweep(folder: Path, extra: str = "") -> Path:
    path = folder / "sweep.toml"
    path.write_text(SWEEP + extra)
    return path


def row_differences(got: list[dict], expected: list[dict]) -> list[str]:
    """Where two sweeps' summaries differ, key by key: what a failing comparison should say."""
    if len(got) != len(expected):
        return [f"{len(got)} rows vs {len(expected)}"]
    return [
        f"{a.get('target')}/{a.get('variant')}/{a.get('runtime')} {key}: {a.get(key)!r} vs {b.get(key)!r}"
        for a, b in zip(deterministic(got), deterministic(expected), strict=True)
        for key in sorted(a.keys() | b.keys())
        if a.get(key) != b.get(key)
    ]


def deterministic(rows: list[dict]) -> list[dict]:
    """A sweep summary's rows without the measured timings: what must not depend on the executor."""
    from edgec.compiler.sweep.job import TIMING_KEYS

    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in rows]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project of the test's own: its build registry starts empty."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.setenv("EDGEC_PROJECT", str(folder))
    return folder


def search_numbers(found: dict) -> dict:
    """A fallback search's report without its timings: what must not depend on where candidates ran."""
    trials = [{k: v for k, v in trial.items() if k != "latency_p50_ms"} for trial in found["trials"]]
    keep = ("sensitivity", "tensor_sqnr", "failed_candidates", "passed")
    return {"trials": trials, "chosen": found["chosen"]["float_nodes"], **{k: found[k] for k in keep}}


@pytest.fixture(scope="session")
def local_sweep(tmp_path_factory, session_cache) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("sweep")
    broken = '\n[[variant]]\nname = "broken"\npipeline = "cleanup,quantise"\n'
    done = run_cli("sweep", str(write_sweep(folder, broken)), "--jobs", "2", "--cache-dir", str(session_cache))
    return folder, {"done": done, "summary": json.loads((folder / "out" / "summary.json").read_text())}
