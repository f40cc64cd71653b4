"""Does structured pruning pay? MobileNetV2 with 40% of its prunable conv channels removed, int8, both runtimes.

    python bench/prune_channels.py [--ratio 0.4] [--threads 1 2] [--allocate uniform cost]

edgec's passes on the MobileNetV2-style net (random weights, 64 random calibration inputs): cleanup, then
prune-channels (L1, refit recovery) with each `--allocate` (the same share in every group, or shares that grow
with what a group's channel costs) or not, then ORT int8 (rpi4 scheme) and onnx2tf + full-int8 TFLite. All
artifacts are timed interleaved in one process at batch 1. Random weights: the SQNR says how far the pruned
function moved, not what accuracy a trained net would keep.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from common import check_load, float_baseline, save, time_peers
from edgec.compiler.data import Dataset
from edgec.compiler.engine import run_passes
from edgec.compiler.kinds import OnnxModel
from edgec.compiler.macs import node_macs
from edgec.compiler.passes.base import Context
from edgec.compiler.passes.cleanup import Cleanup
from edgec.compiler.passes.onnx_to_tf import OnnxToTf
from edgec.compiler.passes.prune_channels import PruneChannels
from edgec.compiler.passes.quantize import Quantize
from edgec.compiler.passes.tflite import Tflite
from edgec.compiler.progress import Progress
from edgec.compiler.validation.evaluate import run_model
from edgec.runtimes import metrics
from edgec.targets.profile import load_profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratio", type=float, default=0.4)
    parser.add_argument("--align", type=int, default=16)
    parser.add_argument("--allocate", nargs="+", default=["uniform", "cost"], help="prune-channels allocations")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    load = check_load()
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (80, 3, 224, 224)).astype(np.float32)
    calibration, held_out = Dataset({"input": x[:64]}, None, "random"), Dataset({"input": x[64:]}, None, "")
    ctx = Context(load_profile("rpi4"), calibration, Progress(False))
    with tempfile.TemporaryDirectory() as tmp:
        float_model = float_baseline("edgec.models.mobilenet_v2:make_model", (1, 3, 224, 224), x[:64], Path(tmp))
    cleaned, _ = run_passes(float_model, [Cleanup()], ctx, None)
    assert isinstance(cleaned, OnnxModel)
    variants: dict[str, OnnxModel] = {"unpruned": cleaned}
    facts: dict[str, Any] = {}
    for allocate in args.allocate:
        pruner = PruneChannels(ratio=args.ratio, align=args.align, allocate=allocate)
        pruned, records = run_passes(cleaned, [pruner], ctx, None)
        assert isinstance(pruned, OnnxModel)
        variants[allocate] = pruned
        counts = [tuple(map(int, c.split(" -> "))) for c in records[0].details["channels"].values()]
        facts[f"{allocate} channels"] = records[0].details["channels"]
        facts[f"{allocate} channels removed share"] = 1 - sum(k for _, k in counts) / sum(n for n, _ in counts)
    artifacts: dict[str, tuple[str, bytes]] = {}
    layouts = {}
    for label, model in variants.items():
        int8, _ = run_passes(model, [Quantize()], ctx, None)
        lite, _ = run_passes(model, [OnnxToTf(), Tflite()], ctx, None)
        artifacts[f"{label} onnx"] = ("onnxruntime", int8.artifact_bytes())
        artifacts[f"{label} tflite"] = ("litert", lite.artifact_bytes())
        layouts[f"{label} tflite"] = lite.layout  # type: ignore[attr-defined]
        facts[label] = {
            "params": sum(int(np.prod(i.dims)) for i in model.proto.graph.initializer),
            "macs": sum(node_macs(model).values()),
            "onnx_bytes": len(int8.artifact_bytes()),
            "tflite_bytes": len(lite.artifact_bytes()),
        }
    reference = run_model("onnxruntime", cleaned.to_bytes(), held_out, 2, ctx.progress, "float")
    for name, (runtime, data) in artifacts.items():
        run = run_model(runtime, data, held_out, 2, ctx.progress, name, layouts.get(name))
        facts[f"{name} sqnr_db"] = metrics.sqnr_db(reference.outputs, run.outputs)
    before = facts["unpruned"]
    print(f"\nload average {load:.2f}")
    for allocate in args.allocate:
        after = facts[allocate]
        print(
            f"allocate={allocate}: channels removed {facts[f'{allocate} channels removed share']:.1%}; params "
            f"{before['params']:,} -> {after['params']:,} ({after['params'] / before['params']:.2f}x); MACs "
            f"{before['macs']:,} -> {after['macs']:,} ({after['macs'] / before['macs']:.2f}x); int8 onnx "
            f"{before['onnx_bytes'] / 1e6:.2f} -> {after['onnx_bytes'] / 1e6:.2f} MB; tflite "
            f"{before['tflite_bytes'] / 1e6:.2f} -> {after['tflite_bytes'] / 1e6:.2f} MB"
        )
    print("SQNR vs unpruned float: " + ", ".join(f"{k[:-8]} {v:.1f} dB" for k, v in facts.items() if "sqnr" in k))
    feeds = {"input": x[64:65]}
    print("| threads | runtime | allocate | unpruned p50 / p90 ms | pruned p50 / p90 ms | pruned / unpruned (p50) |")
    print("|---|---|---|---|---|---|")
    timings = {}
    for threads in args.threads:
        stats = time_peers(artifacts, feeds, threads, rounds=20, runs=10, layouts=layouts, pause=0.05)
        timings[threads] = stats
        for runtime in ("onnx", "tflite"):
            a = stats[f"unpruned {runtime}"]
            for allocate in args.allocate:
                b = stats[f"{allocate} {runtime}"]
                print(
                    f"| {threads} | {runtime} | {allocate} | {a['p50_ms']:.2f} / {a['p90_ms']:.2f} | "
                    f"{b['p50_ms']:.2f} / {b['p90_ms']:.2f} | {b['p50_ms'] / a['p50_ms']:.2f}x |"
                )
    print(f"results: {save('prune_channels', {'load_average': load, **facts, 'latency': timings})}")


if __name__ == "__main__":
    main()
