"""`edgec bundle`: pack a build for its device (runtimes/bundle.py describes the format).

The host computes here what the device compares against: the float model's outputs and each artifact's host
outputs on a bounded evaluation subset. The device then reports its own accuracy in the three rows and, apart
from them, how far its outputs are from the host's for the same artifact: quantization error stays on the
host side of that line, runtime error (other kernels, another CPU) on the device side.

The archive is deterministic (sorted members, fixed timestamps): the same build and data give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .. import runtimes as runtimes_package
from ..runtimes import RUNTIME_PACKAGES, open_runner
from ..runtimes.bundle import DATA, FORMAT, INDEX, artifact_member
from ..runtimes.jsonio import to_json
from ..runtimes.layout import IoLayout
from ..runtimes.runner import run_judged
from .data import Dataset, check_dataset, load_dataset
from .errors import InputError
from .kinds import OnnxModel
from .output import MANIFEST
from .quiet import captured_native_output
from .report_diff import load_report
from .streaming import streamed

DEFAULT_SAMPLES = 256
MAX_INPUT_BYTES = 64 << 20  # a bounded subset: the device holds it in memory next to the model
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
MAIN_SOURCE = "bundle_main.py"  # `python model.bundle ARGS` runs this as the archive's __main__.py (see there why)


@dataclass
class BundleSummary:
    path: Path
    bytes: int
    samples: int
    artifacts: list[str]
    same_data_as_build: bool


def write_bundle(
    build: Path, out: Path, eval_path: Path | None = None, samples: int = DEFAULT_SAMPLES
) -> BundleSummary:
    if samples < 1:
        raise InputError(f"--samples {samples}: must be at least 1")
    report = load_report(build)
    files = _verified_files(build)
    baseline = OnnxModel.from_bytes(files[report["baseline"]["file"]])
    data = _evaluation(report, baseline, eval_path)
    subset = data.subset(slice(0, _bounded(data, samples)), f"{data.source} (bundled subset)")
    arrays = _reference_outputs(report, files, baseline, subset)
    members = {artifact_member(a["file"]): files[a["file"]] for a in report["artifacts"]}
    members[DATA] = _npz(arrays)
    members.update(_harness_code())
    index = _index(report, subset, data.sha256 == report["data"]["evaluation"]["sha256"], members)
    members[INDEX] = to_json(index)
    payload = _zip(members)
    _write_atomically(out, payload)
    return BundleSummary(
        out,
        len(payload),
        len(subset),
        [a["name"] for a in report["artifacts"]],
        index["data"]["same_as_build_evaluation"],
    )


def _verified_files(build: Path) -> dict[str, bytes]:
    """Every file the manifest lists, checked against its sha256: a bundle must carry what was validated."""
    try:
        manifest = json.loads((build / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{build}: no readable {MANIFEST} ({exc}); give a build folder made by edgec compile"
        ) from None
    files = {}
    for name, entry in manifest["files"].items():
        data = (build / name).read_bytes() if (build / name).is_file() else b""
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise InputError(f"{build / name}: missing or changed since the build ({MANIFEST} has another sha256)")
        files[name] = data
    return files


def _evaluation(report: dict[str, Any], baseline: OnnxModel, eval_path: Path | None) -> Dataset:
    """The evaluation data; a streamed build's is streamed again, so the device runs the sequence as the build
    judged it (the state inputs' rows come from the float model, the first is the initial state)."""
    states = tuple((int(i), str(n)) for i, n in report["data"]["evaluation"].get("streamed_states") or [])
    if eval_path is not None:
        fed_back = {name for _, name in states}
        loaded = load_dataset(eval_path, [s for s in baseline.inputs if s.name not in fed_back], "eval")
        return streamed(loaded, baseline, states, 1) if states else loaded
    if report["source"]["kind"] != "demo":
        raise InputError("the bundle needs evaluation data: pass --eval data.npz (inputs, and labels if any)")
    from .frontends.demo import demo_split

    return check_dataset(demo_split("eval"), baseline.inputs)


def _bounded(data: Dataset, samples: int) -> int:
    per_sample = sum(array[:1].nbytes for array in data.inputs.values())
    return max(1, min(samples, len(data), MAX_INPUT_BYTES // max(per_sample, 1)))


def _reference_outputs(
    report: dict[str, Any], files: dict[str, bytes], baseline: OnnxModel, subset: Dataset
) -> dict[str, np.ndarray]:
    """The subset's inputs and labels, the float model's outputs on it, and each artifact's host outputs."""
    inputs = {name: np.asarray(array) for name, array in subset.inputs.items()}  # bounded: _bounded samples
    arrays = {f"input:{name}": array for name, array in inputs.items()}
    if subset.labels is not None:
        arrays["labels"] = subset.labels
    with captured_native_output():
        arrays["float_outputs"] = run_judged(open_runner("onnxruntime", baseline.to_bytes()), inputs, subset.states)
        for artifact in report["artifacts"]:
            layout = IoLayout.from_dict(artifact["io_layout"]) if artifact.get("io_layout") else None
            runner = open_runner(artifact["runtime"], files[artifact["file"]])
            outputs = run_judged(runner, inputs, subset.states, layout)
            arrays[f"host:{artifact['name']}"] = outputs
    return arrays


def _index(report: dict[str, Any], subset: Dataset, same: bool, members: dict[str, bytes]) -> dict[str, Any]:
    target = report["target"]
    runtimes = sorted({a["runtime"] for a in report["artifacts"]})
    return {
        "format": FORMAT,
        "edgec_version": __version__,
        "build": {
            "report_sha256": hashlib.sha256(to_json(report)).hexdigest(),
            "model": report["source"]["name"],
            "model_sha256": report["source"]["sha256"],
        },
        "target": {"id": target["id"], "threads": target["threads"], "max_latency_ms": _latency_budget(report)},
        "requirements": _requirements(report, runtimes),
        "data": {
            "source": subset.source,
            "samples": len(subset),
            "labels": subset.labels is not None,
            "sha256": subset.sha256,
            "same_as_build_evaluation": same,
            "inputs": list(subset.inputs),
            "states": [list(pair) for pair in subset.states],  # the harness streams these (runner.run_streaming)
            # what the output means, declared or inferred at build time: the device judges it the same way
            "output_kind": next((a["evaluation"].get("output_kind") for a in report["artifacts"]), None),
        },
        "artifacts": [
            {
                "name": a["name"],
                "file": a["file"],
                "format": a["format"],
                "runtime": a["runtime"],
                "precision": a["precision"],
                "sha256": a["sha256"],
                "io_layout": a.get("io_layout"),
            }
            for a in report["artifacts"]
        ],
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(members.items())},
    }


def _latency_budget(report: dict[str, Any]) -> float | None:
    """The profile's `max_latency_ms` as the build recorded it: the target may be a profile file (--target
    my-board.toml) that no longer exists, or never had a name edgec knows."""
    budgets = (budget for artifact in report["artifacts"] for budget in artifact["cost"]["budgets"])
    return next((budget["available"] for budget in budgets if budget["resource"] == "latency"), None)


def _requirements(report: dict[str, Any], runtimes: list[str]) -> list[str]:
    """pip requirements for a device venv: numpy and the runtimes the artifacts need, at the host's versions."""
    tools = report["tools"]
    pins = [f"numpy=={tools['numpy']}"] if "numpy" in tools else ["numpy"]
    for runtime in runtimes:
        package = RUNTIME_PACKAGES[runtime]
        pins.append(f"{package}=={tools[package]}" if package in tools else package)
    return pins


def _harness_code() -> dict[str, bytes]:
    """The device side's own sources, so the bundle runs as `python model.bundle` (a zipapp). Nothing else goes
    to the archive's root: `python model.bundle` puts the archive on sys.path, where a member would be a module."""
    package_root = Path(runtimes_package.__file__).parent
    code = {
        "__main__.py": (package_root / MAIN_SOURCE).read_bytes(),
        "edgec/__init__.py": (package_root.parent / "__init__.py").read_bytes(),
    }
    for source in sorted(package_root.glob("*.py")):
        code[f"edgec/runtimes/{source.name}"] = source.read_bytes()
    return code


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz numpy.load reads, with fixed timestamps (numpy.savez stamps the current time)."""
    members = {}
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
        members[f"{name}.npy"] = buffer.getvalue()
    return _zip(members)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name])
    return buffer.getvalue()


def _write_atomically(out: Path, payload: bytes) -> None:
    if out.is_dir():
        raise InputError(f"-o {out}: is a folder; give a file name such as model.bundle")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    except OSError as exc:
        raise InputError(f"-o {out}: cannot write there ({exc.strerror or exc}); choose another path") from None
    with os.fdopen(handle, "wb") as stream:
        stream.write(payload)
    os.chmod(temporary, 0o644)
    os.replace(temporary, out)
