"""MobileNetV2 (plain torch, random init) compiled for host-x86 through the factory frontend: is int8 faster?

    python bench/mobilenet_int8.py [--threads 1 2]

Compiles with edgec's real pipeline (export, cleanup, ORT static int8 with the profile's U8S8 scheme), then
times the float baseline and the int8 artifact in one process, interleaved, and prints medians, p90 and the
speed-up ratio with the ONNX Runtime version and thread count. Random weights and inputs: the accuracy numbers
are agreement with float only, not a quality claim.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime

from common import check_load, float_vs_int8, save
from edgec.compiler.api import CompileOptions, compile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--calib-samples", type=int, default=64)
    args = parser.parse_args()
    load = check_load()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        calib = Path(tmp) / "calib.npz"
        np.savez(calib, input=rng.normal(0, 1, (args.calib_samples + 16, 3, 224, 224)).astype(np.float32))
        result = compile(
            CompileOptions(
                source="edgec.models.mobilenet_v2:make_model",
                target="host-x86",
                input_shapes=((1, 3, 224, 224),),
                calib=calib,
                output=Path(tmp) / "build",
                min_agreement=0.0,
                holdout=16 / (args.calib_samples + 16),
                progress=True,
            )
        )
        float_bytes = (result.path / "baseline.float32.onnx").read_bytes()
        int8_bytes = (result.path / result.report["artifacts"][0]["file"]).read_bytes()
    artifact = result.report["artifacts"][0]
    feeds = {"input": rng.normal(0, 1, (1, 3, 224, 224)).astype(np.float32)}
    print(
        f"\nonnxruntime {onnxruntime.__version__}, load average {load:.2f}, batch 1, "
        f"float {len(float_bytes) / 1e6:.1f} MB, int8 {len(int8_bytes) / 1e6:.1f} MB "
        f"({artifact['size_ratio']:.2f}x), agreement {artifact['evaluation']['drift']['agreement']:.2f}, "
        f"SQNR {artifact['evaluation']['drift']['sqnr_db']:.1f} dB"
    )
    rows = float_vs_int8({"float32": float_bytes, "int8": int8_bytes}, feeds, args.threads)
    path = save(
        "mobilenet_int8",
        {
            "onnxruntime": onnxruntime.__version__,
            "load_average": load,
            "artifact": {k: artifact[k] for k in ("size_ratio", "pipeline", "evaluation")},
            "compile_seconds": result.report["seconds"],
            "latency": rows,
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
