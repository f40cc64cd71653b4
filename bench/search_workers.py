"""Does a budgeted search get faster with more local workers? The prune search on MobileNetV2, 1 vs 2 workers.

    python bench/search_workers.py [--rounds 2] [--size 224]

MobileNetV2 (random init) for host-x86 with `--prune unstructured:auto`: seven grid points, each a real
pruned int8 ONNX artifact (magnitude pruning, calibration, quantization, evaluation in ONNX Runtime). The
budget is agreement >= 0, so every point passes and both runs measure the same seven candidates: the ratio is
throughput, not a different walk. `--jobs 1` builds them in the compile's process, `--jobs 2` on a pool of
two spawned workers. Each compile has a fresh pass cache; runs alternate 1, 2, 1, 2 so drift in the machine's
load hits both alike. Prints each compile's wall time (export, the search, the final build and its validation:
all but the search are the same work in both), medians, the ratio, the ONNX Runtime version, its thread count
per candidate, and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime

from common import check_load, save
from edgec.compiler.api import CompileOptions, compile
from edgec.compiler.build_validation import threads_for
from edgec.compiler.prune_request import parse_prune
from edgec.targets.profile import load_profile

CALIBRATION, EVALUATION = 32, 16


def one_search(folder: Path, size: int, jobs: int) -> tuple[float, int]:
    """Wall time of the compile and how many grid points its search measured."""
    rng = np.random.default_rng(0)
    data = rng.normal(0, 1, (CALIBRATION + EVALUATION, 3, size, size)).astype(np.float32)
    np.savez(folder / "calib.npz", input=data)
    options = CompileOptions(
        source="edgec.models.mobilenet_v2:make_model",
        target="host-x86",
        input_shapes=((1, 3, size, size),),
        calib=folder / "calib.npz",
        output=folder / "build",
        min_agreement=0.0,
        holdout=EVALUATION / (CALIBRATION + EVALUATION),
        prune=parse_prune("unstructured:auto"),
        search=False,
        cache_dir=folder / "cache",
        progress=False,
        jobs=jobs,
    )
    start = time.perf_counter()
    result = compile(options)
    seconds = time.perf_counter() - start
    return seconds, len(result.report["prune_search"]["curve"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    load = check_load()
    times: dict[int, list[float]] = {1: [], 2: []}
    for round_ in range(args.rounds):
        for jobs in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                seconds, points = one_search(Path(tmp), args.size, jobs)
            times[jobs].append(seconds)
            print(f"round {round_ + 1}: {jobs} worker(s): a {points}-point prune search, compile {seconds:.1f} s")
    medians = {jobs: statistics.median(values) for jobs, values in times.items()}
    ratio = medians[1] / medians[2]
    threads = threads_for(load_profile("host-x86"))
    print(f"median: 1 worker {medians[1]:.1f} s, 2 workers {medians[2]:.1f} s; speed-up {ratio:.2f}x")
    runtime = f"onnxruntime {onnxruntime.__version__}, {threads} thread(s) per candidate"
    print(f"{runtime}, cores: {os.cpu_count()}, load average before: {load:.2f}")
    save("search_workers", {"seconds": times, "median": medians, "speedup": ratio, "threads": threads, "load": load})


if __name__ == "__main__":
    main()
