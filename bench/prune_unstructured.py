"""Which unstructured method keeps accuracy: magnitude vs activation-aware (Wanda, SparseGPT), on a trained CNN.

    apt-get install dataset-fashion-mnist && python bench/prune_unstructured.py [--sparsity 0.3 0.5 0.7]

The Fashion-MNIST CNN of fashion_mnist.py (trained on first use), exported and cleaned up by edgec. Each
method x scope x sparsity is pruned without fine-tuning from 512 calibration images, with every layer pruned
and with the default that keeps layers of fan-in under 32 dense (here the first conv: 9 taps, 288 weights).
Each is evaluated on the 10,000 test images in ONNX Runtime as float and as int8 (rpi4 scheme): top-1 drop
against the dense float model, the int8 artifact's zlib-compressed size (what a compressed flash image costs)
and its batch-1 latency against the dense int8 artifact, timed interleaved, to show what zeros do not buy.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from fashion_mnist import load

from common import check_load, float_baseline, save, time_peers
from edgec.compiler.data import Dataset
from edgec.compiler.engine import run_passes
from edgec.compiler.passes.base import Context
from edgec.compiler.passes.cleanup import Cleanup
from edgec.compiler.passes.prune import Prune
from edgec.compiler.passes.quantize import Quantize
from edgec.compiler.progress import Progress
from edgec.compiler.validation.evaluate import run_model
from edgec.runtimes import metrics
from edgec.targets.profile import load_profile

CALIBRATION_SIZE = 512


def accuracy(data: bytes, evaluation: Dataset, ctx: Context, label: str) -> float:
    run = run_model("onnxruntime", data, evaluation, 2, ctx.progress, label)
    return 100 * metrics.accuracy(run.outputs, evaluation.labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sparsity", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--scopes", nargs="+", default=["layer", "output"])
    args = parser.parse_args()
    load_average = check_load()
    x_calib, y_calib = load("calib")
    x_eval, y_eval = load("eval")
    calibration = Dataset({"input": x_calib[:CALIBRATION_SIZE]}, y_calib[:CALIBRATION_SIZE], "calib")
    evaluation = Dataset({"input": x_eval}, y_eval, "test")
    ctx = Context(load_profile("rpi4"), calibration, Progress(False))
    with tempfile.TemporaryDirectory() as tmp:
        exported = float_baseline("fashion_mnist:make_pretrained", (1, 1, 28, 28), x_calib[:64], Path(tmp))
    dense, _ = run_passes(exported, [Cleanup()], ctx, None)
    dense_int8, _ = run_passes(dense, [Quantize()], ctx, None)
    float_acc = accuracy(dense.to_bytes(), evaluation, ctx, "float")
    int8_acc = accuracy(dense_int8.artifact_bytes(), evaluation, ctx, "int8")
    dense_zip = len(zlib.compress(dense_int8.artifact_bytes(), 9))
    print(f"load average {load_average:.2f}; dense float {float_acc:.2f}%, dense int8 {int8_acc:.2f}%")
    print(f"dense int8: {len(dense_int8.artifact_bytes()):,} bytes, {dense_zip:,} compressed")
    print(
        "| layers | scope | sparsity | method | weights zero | float drop | int8 drop | int8 compressed "
        "| int8 weights zero | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows: list[dict[str, Any]] = []
    timed: dict[str, bytes | tuple[str, bytes]] = {"dense": dense_int8.artifact_bytes()}
    for layers, min_fan_in in (("every layer", 0), ("fan-in >= 32 (default)", 32)):
        for scope in args.scopes:
            for sparsity in args.sparsity:
                for method in ("magnitude", "wanda", "sparsegpt"):
                    prune = Prune(sparsity=sparsity, method=method, scope=scope, min_fan_in=min_fan_in)
                    started = time.perf_counter()
                    pruned, records = run_passes(dense, [prune], ctx, None)
                    seconds = time.perf_counter() - started
                    int8, _ = run_passes(pruned, [Quantize()], ctx, None)
                    row = {
                        "layers": layers,
                        "scope": scope,
                        "sparsity": sparsity,
                        "method": method,
                        "float_drop": float_acc - accuracy(pruned.to_bytes(), evaluation, ctx, "pruned"),
                        "int8_drop": float_acc - accuracy(int8.artifact_bytes(), evaluation, ctx, "pruned int8"),
                        "int8_compressed_bytes": len(zlib.compress(int8.artifact_bytes(), 9)),
                        "layer_sparsity": records[0].details["layer_sparsity"],
                        "sparsity_overall": _zero_share(pruned.proto, "float32"),
                        "seconds": round(seconds, 2),
                        "int8_zero_weights": _zero_share(int8.proto, "int8"),
                    }
                    rows.append(row)
                    print(
                        f"| {layers} | {scope} | {sparsity:.0%} | {method} | {row['sparsity_overall']:.1%} | "
                        f"{row['float_drop']:.2f} | {row['int8_drop']:.2f} | "
                        f"{row['int8_compressed_bytes'] / dense_zip:.2f}x | {row['int8_zero_weights']:.1%} | "
                        f"{seconds:.1f} |",
                        flush=True,
                    )
                    if min_fan_in and scope == "layer" and sparsity == max(args.sparsity):
                        timed[f"{method} {sparsity:.0%}"] = int8.artifact_bytes()
    stats = time_peers(timed, {"input": x_eval[:1]}, threads=1, rounds=10, runs=50, pause=0.05)
    for name, stat in stats.items():
        ratio = stat["p50_ms"] / stats["dense"]["p50_ms"]
        print(f"int8, 1 thread, {name}: p50 {stat['p50_ms']:.3f} ms, p90 {stat['p90_ms']:.3f} ms ({ratio:.2f}x)")
    summary = {"load_average": load_average, "float_accuracy": float_acc, "int8_accuracy": int8_acc}
    print(f"results: {save('prune_unstructured', {**summary, 'rows': rows, 'latency': stats})}")


def _zero_share(proto: Any, dtype: str) -> float:
    """Share of exactly-zero weights (initializers of rank >= 2 and the given dtype, so not biases or scales)."""
    import numpy as np
    import onnx

    arrays = [onnx.numpy_helper.to_array(i) for i in proto.graph.initializer]
    weights = [a for a in arrays if a.dtype == np.dtype(dtype) and a.ndim >= 2]
    return float(sum((a == 0).sum() for a in weights) / max(1, sum(a.size for a in weights)))


if __name__ == "__main__":
    main()
