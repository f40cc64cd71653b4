"""Does a compile's memory stay flat as the calibration set grows? Peak RSS at 1x and 10x calibration data.

    python bench/calibration_memory.py [--samples 256] [--calibration percentile minmax] [--before REV]

A small conv net with ImageNet-sized inputs (3x224x224 float32: 588 KiB a sample) is compiled for host-x86
(`edgec compile`, a fresh process each time, no cache) with N and 10N calibration samples and a fixed
evaluation set. Peak RSS is the compile process's own high-water mark (VmHWM, read from /proc as it exits):
ru_maxrss from wait4 would not do, since Linux folds the parent's peak into a child's at exec. With
`--before REV` the same compiles also run on edgec at git revision REV (a worktree), the peer that shows
what streaming saves. Prints a table; JSON in results/calibration_memory.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from common import check_load, save

SHAPE = (3, 224, 224)
REPO = Path(__file__).resolve().parent.parent


def write_model(path: Path) -> None:
    """Two strided convs, global pooling and a classifier: cheap to run, big to feed."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.normal(size=shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], strides=[4, 4], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], strides=[2, 2], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "w3", "b3"], ["logits"], transB=1),
    ]
    initializers = [
        weight("w1", 16, 3, 3, 3),
        numpy_helper.from_array(np.zeros(16, np.float32), "b1"),
        weight("w2", 32, 16, 3, 3),
        numpy_helper.from_array(np.zeros(32, np.float32), "b2"),
        weight("w3", 10, 32),
        numpy_helper.from_array(np.zeros(10, np.float32), "b3"),
    ]
    graph = helper.make_graph(
        nodes,
        "wide_input",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *SHAPE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        initializers,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def write_data(path: Path, samples: int, seed: int) -> None:
    """Written a slice at a time through a memory map, so this script never holds the set either."""
    rng = np.random.default_rng(seed)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(samples, *SHAPE))
    for start in range(0, samples, 64):
        stop = min(start + 64, samples)
        array[start:stop] = rng.random((stop - start, *SHAPE), dtype=np.float32)
    array.flush()
    del array


MEASURED = """
import atexit, os, sys
def record():
    status = open("/proc/self/status").read()
    peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    open(os.environ["EDGEC_BENCH_PEAK"], "w").write(peak)
atexit.register(record)
from edgec.cli import main
main(sys.argv[1:])
"""


def peak_rss(python_path: str | None, args: list[str], folder: Path) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of one `edgec` process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "EDGEC_BENCH_PEAK": str(folder / "peak_kib")}
    if python_path:
        env["PYTHONPATH"] = python_path
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: the gate failed (random weights and labels); the build is complete
        raise SystemExit(f"edgec {' '.join(args)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return int((folder / "peak_kib").read_text()) / 1024, seconds


def edgec_before(revision: str, folder: Path) -> str:
    """A worktree of edgec at `revision`, importable as `edgec` ahead of the editable install."""
    tree = folder / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), revision], check=True)
    (folder / "path").mkdir()
    (folder / "path" / "edgec").symlink_to(tree)
    return str(folder / "path")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256, help="calibration samples at 1x")
    parser.add_argument("--calibration", nargs="+", default=["percentile", "minmax"])
    parser.add_argument("--before", help="also measure edgec at this git revision (e.g. the commit before streaming)")
    args = parser.parse_args()
    load = check_load()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_model(folder / "model.onnx")
        write_data(folder / "eval.npy", 64, seed=1)
        for scale in (1, 10):
            write_data(folder / f"calib{scale}.npy", args.samples * scale, seed=scale)
        versions = {"now": None}
        if args.before:
            versions[args.before] = edgec_before(args.before, folder / "before")
        try:
            for version, python_path in versions.items():
                for method in args.calibration:
                    for scale in (1, 10):
                        out = folder / f"build-{version}-{method}-{scale}"
                        compile_args = [
                            "compile", str(folder / "model.onnx"), "--target", "host-x86", "--no-cache",
                            "--calib", str(folder / f"calib{scale}.npy"), "--eval", str(folder / "eval.npy"),
                            "--calibration", method, "-o", str(out), "--quiet", "--no-search",
                        ]  # fmt: skip
                        rss, seconds = peak_rss(python_path, compile_args, folder)
                        row = {"edgec": version, "calibration": method, "samples": args.samples * scale}
                        rows.append({**row, "peak_rss_mib": round(rss, 1), "seconds": round(seconds, 1)})
                        print(f"{version:>10} {method:>10} {args.samples * scale:>6} samples: "
                              f"peak RSS {rss:8.1f} MiB in {seconds:6.1f} s")  # fmt: skip
        finally:
            if args.before:
                tree = folder / "before" / "tree"
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
    ratios = {}
    for row in rows:
        if row["samples"] == args.samples * 10:
            small = next(r for r in rows if r["edgec"] == row["edgec"] and r["calibration"] == row["calibration"])
            ratios[f"{row['edgec']}/{row['calibration']}"] = round(row["peak_rss_mib"] / small["peak_rss_mib"], 3)
    print("peak RSS 10x / 1x:", ratios)
    mib_per_sample = np.prod(SHAPE) * 4 / 2**20
    print(f"(the extra 9x{args.samples} samples are {9 * args.samples * mib_per_sample:.0f} MiB of float32 on disk)")
    save("calibration_memory", {"load": load, "rows": rows, "ratio_10x_over_1x": ratios, "shape": SHAPE})


if __name__ == "__main__":
    main()
