"""Does a sweep get faster with more local workers? Wall time of a 12-build sweep with 1 vs 2 workers.

    python bench/sweep_workers.py [--rounds 2]

The demo for 4 targets x 3 variants (int8, float, 70% unstructured sparsity), `edgec sweep --jobs N`, each
run on a fresh pass cache so every run does the same work. Runs alternate 1, 2, 1, 2 ... so drift in the
machine's load hits both alike; prints each wall time, the medians and their ratio, and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import check_load, save

SWEEP = """
output = "out"
targets = ["rpi4", "host-x86", "rpi5", "jetson-orin-nano"]

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


def one_sweep(folder: Path, workers: int) -> float:
    (folder / "sweep.toml").write_text(SWEEP)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "edgec.cli", "sweep", str(folder / "sweep.toml"), "--jobs", str(workers)]
    start = time.perf_counter()
    done = subprocess.run([*command, "--cache-dir", str(folder / "cache")], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sweep with {workers} worker(s) failed: {done.stderr[-800:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    load = check_load()
    times: dict[int, list[float]] = {1: [], 2: []}
    for round_ in range(args.rounds):
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                seconds = one_sweep(Path(tmp), workers)
            times[workers].append(seconds)
            print(f"round {round_ + 1}: {workers} worker(s): 12 builds in {seconds:.1f} s")
    medians = {workers: statistics.median(values) for workers, values in times.items()}
    ratio = medians[1] / medians[2]
    print(f"median: 1 worker {medians[1]:.1f} s, 2 workers {medians[2]:.1f} s; speed-up {ratio:.2f}x")
    print(f"cores: {os.cpu_count()}, load average before: {load:.2f}")
    save("sweep_workers", {"seconds": times, "median": medians, "speedup": ratio, "load": load})


if __name__ == "__main__":
    main()
