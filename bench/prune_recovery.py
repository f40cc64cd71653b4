"""What each recovery gets back after structured pruning, on two trained CNNs.

    python bench/prune_recovery.py [--ratios 0.25 0.5] [--models digits fashion] [--epochs 2] [--allocate cost]

prune-channels (L1 criterion) at each ratio with recovery none, mean (removed channels' mean folded into the
readers' biases) and refit (readers re-solved by least squares on calibration data), then the same with
`--epochs` of fine-tuning on labelled training data after none and after refit (the finetune pass,
`--recover-epochs`), then ONNX int8 (rpi4 scheme). Top-1 on held-out data: the digits demo's eval split, or the
Fashion-MNIST test set (fashion_mnist.py, needs Debian's dataset-fashion-mnist). The post-training recoveries use
no labels and 512 (digits: 256) calibration images; fine-tuning uses the training split (digits: 1,437 images;
Fashion-MNIST: the first `--train-samples` of its 59,488).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from common import check_load, float_baseline, save
from edgec.compiler.data import Dataset
from edgec.compiler.engine import run_passes
from edgec.compiler.frontends.demo import demo_split
from edgec.compiler.passes.base import Context
from edgec.compiler.passes.cleanup import Cleanup
from edgec.compiler.passes.finetune import Finetune
from edgec.compiler.passes.prune_channels import RECOVERIES, PruneChannels
from edgec.compiler.passes.quantize import Quantize
from edgec.compiler.progress import Progress
from edgec.compiler.validation.evaluate import run_model
from edgec.runtimes import metrics
from edgec.targets.profile import load_profile


def data(model: str, train_samples: int) -> tuple[str, tuple[int, ...], Dataset, Dataset, Dataset]:
    """(source, input shape, calibration, training, evaluation)."""
    if model == "fashion":
        from fashion_mnist import load

        (x_calib, _), (x_train, y_train), (x_eval, y_eval) = load("calib"), load("train"), load("eval")
        return (
            "fashion_mnist:make_pretrained",
            (1, 1, 28, 28),
            Dataset({"input": x_calib[:512]}, None, "calib"),
            Dataset({"input": x_train[:train_samples]}, y_train[:train_samples], "train"),
            Dataset({"input": x_eval}, y_eval, "eval"),
        )
    calib, training, evaluation = demo_split("calib"), demo_split("train"), demo_split("eval")
    return (
        "edgec.models.digits:make_pretrained",
        (1, 1, 8, 8),
        Dataset({"input": calib.inputs["image"]}, None, "calib"),
        Dataset({"input": training.inputs["image"]}, training.labels, "train"),
        Dataset({"input": evaluation.inputs["image"]}, evaluation.labels, "eval"),
    )


def top1(model: bytes, evaluation: Dataset) -> float:
    run = run_model("onnxruntime", model, evaluation, 2, Progress(False), "model")
    return 100 * metrics.accuracy(run.outputs, evaluation.labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.25, 0.5])
    parser.add_argument("--models", nargs="+", default=["digits", "fashion"], choices=["digits", "fashion"])
    parser.add_argument("--allocate", default="uniform", choices=["uniform", "cost"], help="prune-channels allocate")
    parser.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs (the --recover-epochs rows)")
    parser.add_argument("--train-samples", type=int, default=10000, help="Fashion-MNIST training images used")
    args = parser.parse_args()
    load_average = check_load()
    print("| model | ratio | recovery | float top-1 | int8 top-1 | int8 drop vs dense float | seconds |")
    print("|---|---|---|---|---|---|---|")
    rows: list[dict[str, Any]] = []
    for model in args.models:
        source, shape, calibration, training, evaluation = data(model, args.train_samples)
        ctx = Context(load_profile("rpi4"), calibration, Progress(False), training=training)
        with tempfile.TemporaryDirectory() as tmp:
            exported = float_baseline(source, shape, calibration.inputs["input"][:64], Path(tmp))
        dense, _ = run_passes(exported, [Cleanup()], ctx, None)

        dense_top1 = top1(dense.to_bytes(), evaluation)
        print(f"| {model} | 0 | - | {dense_top1:.2f} | | | |")
        for ratio in args.ratios:
            variants = [(r, False) for r in RECOVERIES] + [("none", True), ("refit", True)]
            for recovery, tune in variants:
                started = time.perf_counter()
                passes = [PruneChannels(ratio=ratio, recovery=recovery, allocate=args.allocate)] + (
                    [Finetune(epochs=args.epochs)] if tune else []
                )
                pruned, _ = run_passes(dense, passes, ctx, None)
                recovery = f"{recovery} + {args.epochs} epoch(s) fine-tuning" if tune else recovery
                seconds = time.perf_counter() - started
                int8, _ = run_passes(pruned, [Quantize()], ctx, None)
                row = {
                    "model": model,
                    "ratio": ratio,
                    "recovery": recovery,
                    "float_top1": top1(pruned.to_bytes(), evaluation),
                    "int8_top1": top1(int8.artifact_bytes(), evaluation),
                    "seconds": round(seconds, 2),
                }
                rows.append(row)
                print(
                    f"| {model} | {ratio:g} | {recovery} | {row['float_top1']:.2f} | {row['int8_top1']:.2f} | "
                    f"{dense_top1 - row['int8_top1']:.2f} | {seconds:.1f} |",
                    flush=True,
                )
    print(f"results: {save('prune_recovery', {'load_average': load_average, 'rows': rows})}")


if __name__ == "__main__":
    main()
