"""MobileNetV2 (plain torch, random init) lowered to TFLite by edgec: is LiteRT int8 faster than float32?

    python bench/litert_int8.py [--threads 1 2]

Builds the full-int8 .tflite of `--target rpi4` and, through the same passes, a float32 .tflite
(`--no-quantize`), then times both in LiteRT (ai-edge-litert, default XNNPACK delegate) in one process,
interleaved, at batch 1, and prints medians, p90 and the speed-up. Random weights and inputs: the agreement
and SQNR are against the float ONNX baseline only, not a quality claim.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from common import check_load, float_vs_int8, save
from edgec.compiler.api import CompileOptions, compile
from edgec.compiler.pipeline import Overrides
from edgec.runtimes.litert_runner import load_interpreter_module


def build(folder: Path, calib: Path, quantize: bool):
    return compile(
        CompileOptions(
            source="edgec.models.mobilenet_v2:make_model",
            target="rpi4",
            input_shapes=((1, 3, 224, 224),),
            calib=calib,
            output=folder / ("int8" if quantize else "float"),
            min_agreement=0.0,
            holdout=0.2,
            overrides=Overrides(quantize=quantize),
            progress=True,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    load = check_load()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.savez(folder / "calib.npz", input=rng.normal(0, 1, (80, 3, 224, 224)).astype(np.float32))
        builds = {
            "float32": build(folder, folder / "calib.npz", False),
            "int8": build(folder, folder / "calib.npz", True),
        }
        tflite = {name: next(a for a in r.report["artifacts"] if a["format"] == "tflite") for name, r in builds.items()}
        models = {name: ("litert", (builds[name].path / art["file"]).read_bytes()) for name, art in tflite.items()}
    package, version, _ = load_interpreter_module()
    feeds = {"input": rng.normal(0, 1, (1, 224, 224, 3)).astype(np.float32)}
    int8 = tflite["int8"]
    print(
        f"\n{package} {version} (XNNPACK), load average {load:.2f}, batch 1; float32 "
        f"{len(models['float32'][1]) / 1e6:.1f} MB, int8 {len(models['int8'][1]) / 1e6:.1f} MB; int8 vs float ONNX: "
        f"agreement {int8['evaluation']['drift']['agreement']:.2f}, "
        f"SQNR {int8['evaluation']['drift']['sqnr_db']:.1f} dB"
    )
    rows = float_vs_int8(models, feeds, args.threads)
    path = save(
        "litert_int8",
        {
            "runtime": f"{package} {version}",
            "load_average": load,
            "latency": rows,
            "int8": {k: int8[k] for k in ("size_ratio", "pipeline", "evaluation", "conversion")},
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
