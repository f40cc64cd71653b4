"""Which cleanup engine helps? onnxslim vs ONNX Runtime's basic optimizer vs none, before int8 quantization.

    python bench/cleanup_methods.py

For each model and method: nodes after cleanup, int8 artifact nodes and size, top-1 drop (digits, labelled)
or agreement/SQNR (MobileNetV2, random), and int8 latency at 1 thread timed in the same run as its peers.
The raw digits export (torch.onnx without its optimizer) keeps BatchNorm nodes behind CastLike/Expand
chains, as third-party ONNX files often do: that is where cleanup matters.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from common import check_load, save, time_peers
from edgec.compiler.api import CompileOptions, compile
from edgec.compiler.frontends.demo import demo_split
from edgec.compiler.pipeline import Overrides
from edgec.models.digits import make_pretrained

METHODS = ("ort+onnxslim", "onnxslim", "ort", "none")


def raw_digits_onnx(folder: Path) -> Path:
    """DigitsCNN exported without torch.onnx's optimizer: BatchNorm stays as separate nodes."""
    path = folder / "digits_raw.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            make_pretrained(),
            (torch.zeros(1, 1, 8, 8),),
            dynamo=True,
            optimize=False,
            external_data=False,
            input_names=["image"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
    program.save(str(path))
    return path


def digits_data(folder: Path) -> tuple[Path, Path]:
    paths = []
    for split in ("calib", "eval"):
        data = demo_split(split)
        paths.append(folder / f"{split}.npz")
        np.savez(paths[-1], image=data.inputs["image"], labels=data.labels)
    return paths[0], paths[1]


def main() -> None:
    load = check_load()
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        calib, evaluation = digits_data(folder)
        mobilenet_calib = folder / "mnv2.npz"
        np.savez(mobilenet_calib, input=rng.normal(0, 1, (80, 3, 224, 224)).astype(np.float32))
        cases = {
            "digits (torch.onnx optimized)": dict(source=None),
            "digits (raw export, BN kept)": dict(source=str(raw_digits_onnx(folder)), calib=calib, eval=evaluation),
            "mobilenet_v2 (random)": dict(
                source="edgec.models.mobilenet_v2:make_model",
                calib=mobilenet_calib,
                input_shapes=((1, 3, 224, 224),),
                holdout=0.2,
                min_agreement=0.0,
            ),
        }
        for case, options in cases.items():
            builds = {}
            for method in METHODS:
                result = compile(
                    CompileOptions(
                        target="host-x86",
                        output=folder / f"{len(rows)}-{method}",
                        progress=False,
                        overrides=Overrides(pipeline=f"cleanup{{method={method}}},quantize"),
                        **options,
                    )
                )
                builds[method] = result
            feeds = _feeds(builds["none"], rng)
            latency = time_peers({m: _artifact_bytes(b) for m, b in builds.items()}, feeds, threads=1)
            for method, result in builds.items():
                art = result.report["artifacts"][0]
                cleanup = art["passes"][0]
                rows.append(
                    {
                        "model": case,
                        "method": method,
                        "nodes_before": cleanup["details"]["nodes_before"],
                        "nodes_after_cleanup": cleanup["details"]["nodes_after"],
                        "int8_nodes": sum(art["ops"].values()),
                        "int8_kib": art["size_bytes"] / 1024,
                        "drop_points": art["evaluation"]["accuracy_drop_points"],
                        "agreement": art["evaluation"]["drift"]["agreement"],
                        "sqnr_db": art["evaluation"]["drift"]["sqnr_db"],
                        "int8_p50_ms": latency[method]["p50_ms"],
                        "int8_p90_ms": latency[method]["p90_ms"],
                    }
                )
    print(f"\nonnxruntime {onnxruntime.__version__}, 1 thread, batch 1, load average {load:.2f}")
    print(
        f"{'model':<31} {'method':<12} {'nodes':>11} {'int8 nodes':>10} {'KiB':>7} {'drop':>6} {'agree':>6} "
        f"{'SQNR':>6} {'p50 ms':>7} {'p90 ms':>7}"
    )
    for r in rows:
        drop = "-" if r["drop_points"] is None else f"{r['drop_points']:.2f}"
        print(
            f"{r['model']:<31} {r['method']:<12} {r['nodes_before']:>4} -> {r['nodes_after_cleanup']:<4} "
            f"{r['int8_nodes']:>10} {r['int8_kib']:>7.1f} {drop:>6} {r['agreement']:>6.3f} {r['sqnr_db']:>6.1f} "
            f"{r['int8_p50_ms']:>7.3f} {r['int8_p90_ms']:>7.3f}"
        )
    print(f"results: {save('cleanup_methods', {'onnxruntime': onnxruntime.__version__, 'rows': rows})}")


def _artifact_bytes(result) -> bytes:
    return (result.path / result.report["artifacts"][0]["file"]).read_bytes()


def _feeds(result, rng) -> dict[str, np.ndarray]:
    runner = onnxruntime.InferenceSession(_artifact_bytes(result))
    feeds = {}
    for spec in runner.get_inputs():
        shape = [1 if not isinstance(d, int) else d for d in spec.shape]
        feeds[spec.name] = rng.random(shape, dtype=np.float32)
    return feeds


if __name__ == "__main__":
    main()
