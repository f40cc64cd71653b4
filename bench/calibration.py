"""Which calibration and pre-quantization transforms pay, measured on every model edgec ships for the question.

    python bench/calibration.py [--models digits outlier gru saturated-gru mobilenet]

For each model: the float baseline (edgec's export and cleanup), then ONNX int8 with the rpi4 scheme (S8
activations, per-channel S8 weights) under every calibration (minmax, percentile, entropy, mse) with and
without cross-layer equalization and bias correction. Each variant is evaluated in ONNX Runtime on the
evaluation split (digits models, labelled) or on 16 held-back random inputs (MobileNetV2, random weights:
agreement and SQNR only). Prints drop, agreement, SQNR and quantization seconds; JSON lands in results/.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from common import check_load, float_baseline, save
from edgec.compiler.data import Dataset
from edgec.compiler.engine import run_passes
from edgec.compiler.frontends.demo import demo_split
from edgec.compiler.kinds import OnnxModel
from edgec.compiler.passes.base import Context
from edgec.compiler.passes.cleanup import Cleanup
from edgec.compiler.passes.equalize import Equalize
from edgec.compiler.passes.quantize import CALIBRATIONS, Quantize
from edgec.compiler.progress import Progress
from edgec.compiler.validation.evaluate import compare, run_model
from edgec.targets.profile import load_profile

MODELS = {
    "digits": "edgec.models.digits:make_pretrained",
    "outlier": "edgec.models.hard:make_outlier_digits",
    "gru": "edgec.models.audio:make_pretrained_audio",
    "saturated-gru": "edgec.models.hard:make_saturated_gru",
    "mobilenet": "edgec.models.mobilenet_v2:make_model",
}


def data_for(model: str) -> tuple[tuple[int, ...], Dataset, Dataset]:
    """(input shape, calibration set, evaluation set)."""
    if model == "mobilenet":
        rng = np.random.default_rng(0)
        x = rng.normal(0, 1, (80, 3, 224, 224)).astype(np.float32)
        return (1, 3, 224, 224), Dataset({"input": x[:64]}, None, "random"), Dataset({"input": x[64:]}, None, "")
    calib, evaluation = demo_split("calib"), demo_split("eval")
    return (
        (1, 1, 8, 8),
        Dataset({"input": calib.inputs["image"]}, calib.labels, "calib"),
        Dataset({"input": evaluation.inputs["image"]}, evaluation.labels, "eval"),
    )


def baseline_of(model: str, folder: Path) -> tuple[OnnxModel, Dataset, Dataset]:
    shape, calibration, evaluation = data_for(model)
    return float_baseline(MODELS[model], shape, calibration.inputs["input"], folder / model), calibration, evaluation


def variants() -> list[dict[str, Any]]:
    return [
        {"calibration": c, "equalize": e, "bias_correction": b}
        for c, e, b in itertools.product(CALIBRATIONS, (False, True), (False, True))
    ]


def measure(model: str, folder: Path) -> list[dict[str, Any]]:
    baseline, calibration, evaluation = baseline_of(model, folder)
    ctx = Context(load_profile("rpi4"), calibration, Progress(False))
    reference = run_model("onnxruntime", baseline.to_bytes(), evaluation, 2, ctx.progress, "float")
    rows = []
    for variant in variants():
        passes = [Cleanup(), *([Equalize()] if variant["equalize"] else [])]
        passes.append(Quantize(calibration=variant["calibration"], bias_correction=variant["bias_correction"]))
        started = time.perf_counter()
        artifact, _ = run_passes(baseline, passes, ctx, None)
        seconds = time.perf_counter() - started
        run = run_model("onnxruntime", artifact.artifact_bytes(), evaluation, 2, ctx.progress, "int8")
        ev = compare(model, reference, run, evaluation.labels)
        row = {
            "model": model,
            **variant,
            "drop": ev.accuracy_drop_points,
            "agreement": ev.drift["agreement"],
            "sqnr_db": ev.drift["sqnr_db"],
            "seconds": round(seconds, 2),
        }
        rows.append(row)
        drop = "-" if row["drop"] is None else f"{row['drop']:.2f}"
        print(
            f"| {model} | {variant['calibration']} | {'yes' if variant['equalize'] else 'no'} | "
            f"{'yes' if variant['bias_correction'] else 'no'} | {drop} | {100 * row['agreement']:.2f}% | "
            f"{row['sqnr_db']:.2f} | {seconds:.1f} |",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    load = check_load()
    print(f"python {sys.version.split()[0]}, load average {load:.2f}, ONNX Runtime int8 (rpi4 scheme)")
    print("| model | calibration | equalize | bias correction | drop (points) | agreement | SQNR dB | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            rows += measure(model, Path(tmp))
    print(f"results: {save('calibration', {'load_average': load, 'rows': rows})}")


if __name__ == "__main__":
    main()
