"""Coverage-guided fuzzing (atheris + libFuzzer) of the five loaders that read files a user hands edgec.

    python bench/fuzz_loaders.py [all|onnx|data|profile|report|bundle] [--runs N] [--seconds S]
    python bench/fuzz_loaders.py all --build BUILD --bundle FILE.bundle   # seeds from a build you already have

The contract is tests/test_fuzz_loaders.py's: whatever bytes arrive, a loader succeeds or raises edgec's own
error (EdgecError, ProfileError, BundleError); any other exception, a run over --timeout seconds or a process
over 2 GiB is a crash, and libFuzzer keeps the input in results/fuzz_crashes/. Seeds are valid files written
to a temporary folder: a small ONNX model (inline and with external data), .npz/.npy data, the shipped target
profiles, and a build's report.json and bundle (the demo, compiled for host-x86, unless --build/--bundle).
Each loader runs in a child process because libFuzzer ends the process it fuzzes in; the parent reads the
child's final `Done N runs` line and writes the executions per loader to results/fuzz_loaders.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

LOADERS = ("onnx", "data", "profile", "report", "bundle")
RESULTS = Path(__file__).parent / "results"
TARGETS = Path(__file__).resolve().parent.parent / "targets"
WEIGHTS = "weights.bin"  # the external-data file of the ONNX seed; it sits beside the fuzzed model
DONE = re.compile(r"Done (\d+) runs in (\d+) second")
COVERAGE = re.compile(r"cov: (\d+) ft: \d+ corp: (\d+)/")


def open_loader(name: str) -> Callable[[Path], object]:
    """The loader as a user's file reaches it, down to the first use of what it returns.

    The imports happen here so the fuzzing child can import edgec under atheris's instrumentation."""
    if name == "onnx":
        from edgec.compiler.frontends.onnx_file import load_onnx

        def onnx_io(path: Path) -> object:
            model, _ = load_onnx(path)
            return model.inputs, model.outputs  # what the compiler reads first, as numpy dtypes

        return onnx_io
    if name == "data":
        from edgec.compiler.data import load_dataset
        from edgec.compiler.kinds import TensorSpec

        specs = [TensorSpec("image", (1, 4, 4), "float32", 1)]
        return lambda path: load_dataset(path, specs, "calib").sha256  # the hash reads every row
    if name == "profile":
        from edgec.targets.profile import load_profile

        return lambda path: load_profile(str(path))
    if name == "report":
        from edgec.compiler.report_diff import load_report

        return load_report
    if name == "bundle":
        from edgec.runtimes.bundle import Bundle

        def verified_data(path: Path) -> object:
            bundle = Bundle(path)
            bundle.verify()
            return bundle.data()

        return verified_data
    raise ValueError(f"unknown loader {name!r}; one of {', '.join(LOADERS)}")


def allowed_errors() -> tuple[type[Exception], ...]:
    """The only exceptions a loader may raise: edgec's own, each a one-line message naming the file."""
    from edgec.compiler.errors import EdgecError
    from edgec.runtimes.bundle import BundleError
    from edgec.targets.profile import ProfileError

    return EdgecError, ProfileError, BundleError


def input_path(name: str, work: Path, data: bytes) -> Path:
    """Where the loader `name` reads its input; data files are .npz when they are zips, .npy otherwise."""
    if name == "data":
        return work / ("fuzzed.npz" if data.startswith(b"PK") else "fuzzed.npy")
    return work / {"onnx": "fuzzed.onnx", "profile": "fuzzed.toml", "report": "report.json"}.get(name, "fuzzed.bundle")


def onnx_seeds(work: Path) -> dict[str, bytes]:
    """A Conv+Relu model, inline and with its weights in `work`/weights.bin (the external-data path)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.random((4, 1, 3, 3), dtype=np.float32), "w"),
        numpy_helper.from_array(np.zeros(4, np.float32), "b"),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 4, 4])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    seeds = {"inline.onnx": model.SerializeToString()}
    onnx.save_model(model, str(work / "external.onnx"), save_as_external_data=True, location=WEIGHTS, size_threshold=0)
    seeds["external.onnx"] = (work / "external.onnx").read_bytes()
    return seeds


def data_seeds() -> dict[str, bytes]:
    """Calibration data for a (1, 4, 4) input: .npz plain and compressed (with labels), and a bare .npy."""
    image = np.random.default_rng(0).random((6, 1, 4, 4), dtype=np.float32)
    seeds = {}
    for name, save in (("calib.npz", np.savez), ("compressed.npz", np.savez_compressed)):
        buffer = io.BytesIO()
        save(buffer, image=image, labels=np.arange(6))
        seeds[name] = buffer.getvalue()
    buffer = io.BytesIO()
    np.save(buffer, image)
    seeds["calib.npy"] = buffer.getvalue()
    return seeds


def write_seeds(folder: Path, build: Path, bundle: Path) -> dict[str, Path]:
    """One corpus folder per loader (libFuzzer adds the inputs it finds interesting to it)."""
    work = folder / "work"
    work.mkdir()
    seeds = {
        "onnx": onnx_seeds(work),
        "data": data_seeds(),
        "profile": {path.name: path.read_bytes() for path in sorted(TARGETS.glob("*.toml"))},
        "report": {"report.json": (build / "report.json").read_bytes()},
        "bundle": {"demo.bundle": bundle.read_bytes()},
    }
    corpora = {}
    for name, files in seeds.items():
        corpora[name] = folder / "corpus" / name
        corpora[name].mkdir(parents=True)
        for file, data in files.items():
            (corpora[name] / file).write_bytes(data)
    return corpora


def demo_seed_build(folder: Path) -> tuple[Path, Path]:
    """The demo compiled for host-x86 (one ONNX artifact) and bundled, as the report and bundle seeds."""
    build, bundle = folder / "build", folder / "demo.bundle"
    for args in (["compile", "--target", "host-x86", "-o", str(build)], ["bundle", str(build), "-o", str(bundle)]):
        subprocess.run([sys.executable, "-m", "edgec.cli", *args], check=True, capture_output=True)
    return build, bundle


def fuzz(name: str, corpus: Path, work: Path, args: argparse.Namespace) -> None:
    """The child: instrument edgec, then let libFuzzer drive the loader; it exits the process when done."""
    import atheris

    warnings.simplefilter("ignore")  # onnx warns about every unknown external-data key it meets
    with atheris.instrument_imports(include=["edgec"]):
        load, allowed = open_loader(name), allowed_errors()

    def one_input(data: bytes) -> None:
        path = input_path(name, work, data)
        path.write_bytes(data)
        with contextlib.suppress(allowed):
            load(path)

    args.crashes.mkdir(parents=True, exist_ok=True)
    largest = max((p.stat().st_size for p in corpus.iterdir()), default=4096) if corpus.is_dir() else 4096
    flags = [f"-runs={args.runs}", f"-max_total_time={args.seconds}", f"-timeout={args.timeout}", "-seed=1"]
    flags += ["-rss_limit_mb=2048", f"-max_len={largest + 4096}", f"-artifact_prefix={args.crashes}/{name}-"]
    atheris.Setup([sys.argv[0], str(corpus), *flags], one_input)
    atheris.Fuzz()


def run_child(name: str, corpus: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Fuzz one loader in a child process; its executions, coverage and crash (if any) from libFuzzer's log."""
    argv = [sys.executable, __file__, name, "--child", "--corpus", str(corpus), "--work", str(work)]
    argv += ["--runs", str(args.runs), "--seconds", str(args.seconds), "--timeout", str(args.timeout)]
    argv += ["--crashes", str(args.crashes)]
    seeds, started = len(list(corpus.iterdir())), time.perf_counter()
    child = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    seconds, log = time.perf_counter() - started, child.stdout
    done, coverage = DONE.findall(log), COVERAGE.findall(log)
    progress = re.findall(r"^#(\d+)\s", log, re.MULTILINE)  # libFuzzer's status lines, when a crash cut it short
    record: dict[str, Any] = {
        "runs": int(done[-1][0]) if done else int(progress[-1]) if progress else 0,
        "fuzz_seconds": int(done[-1][1]) if done else None,  # libFuzzer's own count, whole seconds
        "seconds": round(seconds, 1),  # the child's wall time, start-up and seed loading included
        "exit_code": child.returncode,
        "coverage": int(coverage[-1][0]) if coverage else None,
        "corpus": int(coverage[-1][1]) if coverage else None,
        "seeds": seeds,
    }
    if child.returncode:  # libFuzzer's report: the Python traceback, then `==PID== ERROR: ...` and the input
        report = log.partition("=== Uncaught Python exception: ===")[2] or log[-3000:]
        record["crash"] = report.partition("\n==")[0].strip()
        record["crash_input"] = next(iter(re.findall(r"Test unit written to (\S+)", log)), None)
    return record


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loader", nargs="?", default="all", choices=("all", *LOADERS))
    parser.add_argument("--runs", type=int, default=20000, help="executions per loader (libFuzzer -runs)")
    parser.add_argument("--seconds", type=int, default=120, help="and at most this long per loader")
    parser.add_argument("--timeout", type=int, default=20, help="seconds one input may take before it is a hang")
    parser.add_argument("--build", type=Path, help="a build folder whose report.json seeds the report loader")
    parser.add_argument("--bundle", type=Path, help="a .bundle that seeds the bundle loader")
    parser.add_argument("--results", type=Path, default=RESULTS / "fuzz_loaders.json", help="where the JSON goes")
    parser.add_argument("--crashes", type=Path, default=RESULTS / "fuzz_crashes", help="where crash inputs go")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if (args.build is None) != (args.bundle is None):
        parser.error("--build and --bundle go together (the demo is compiled when both are missing)")
    args.crashes = args.crashes.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        fuzz(args.loader, args.corpus, args.work, args)
    names = LOADERS if args.loader == "all" else (args.loader,)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="edgec-fuzz-") as temporary:
        folder = Path(temporary)
        build, bundle = (args.build, args.bundle) if args.build else demo_seed_build(folder)
        corpora = write_seeds(folder, build, bundle)
        records = {}
        for name in names:
            records[name] = run_child(name, corpora[name], folder / "work", args)
            print(_line(name, records[name]), flush=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    summary = {"atheris": version("atheris"), "python": sys.version.split()[0], "load_average": load}
    summary.update(runs_limit=args.runs, seconds_limit=args.seconds, loaders=records)
    args.results.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"results: {args.results}")
    if args.crashes.is_dir() and not any(args.crashes.iterdir()):
        args.crashes.rmdir()
    failed = [name for name, record in records.items() if record["exit_code"] or not record["runs"]]
    if failed:
        print(f"crashed or did not run: {', '.join(failed)} (inputs in {args.crashes})", file=sys.stderr)
    return 1 if failed else 0


def _line(name: str, record: dict[str, Any]) -> str:
    rate = record["runs"] / max(record["seconds"], 1e-9)
    text = f"{name:>8}: {record['runs']:>7} runs in {record['seconds']:>6.1f} s ({rate:,.0f}/s)"
    text += f", coverage {record['coverage']} edges, corpus {record['corpus']}"
    return text + (f"; CRASH: {record['crash'].splitlines()[-1]}" if "crash" in record else "")


if __name__ == "__main__":
    sys.exit(main())
