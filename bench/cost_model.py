"""Fit and check the cost model on this machine: host-x86 latency constants, estimate vs measured, and the
liveness arena estimate vs the arena LiteRT's planner lays out.

    python bench/cost_model.py [--rounds 5]

1. Compiles the calibration networks (bench/cost_shapes.py: each stresses one roofline term) for host-x86 and
   times their float baseline and int8 artifact in ONNX Runtime at the profile's thread count, interleaved.
2. Fits the host-x86 `[cost]` constants to those measurements (least squares on log(estimate / measured)).
3. Holds out the demo and MobileNetV2: prints estimate vs measured with the fitted constants and with the ones
   in targets/host-x86.toml (those are what compile and inspect use).
4. Compiles both for rpi4 and holds the TFLite arena estimate against LiteRT's planned arena.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime
from cost_shapes import SHAPES

from common import RESULTS, check_load, save, time_peers
from edgec.compiler.api import CompileOptions, compile
from edgec.compiler.cost.arena_probe import planned_arena_bytes
from edgec.compiler.cost.graph import CostGraph
from edgec.compiler.cost.latency import estimate_latency
from edgec.compiler.cost.liveness import peak_activations
from edgec.compiler.cost.onnx_graph import onnx_cost_graph
from edgec.compiler.cost.tflite_graph import tflite_cost_graph
from edgec.compiler.kinds import OnnxModel
from edgec.compiler.tflite_inspect import inspect_tflite
from edgec.targets.profile import Cost, load_profile

HELD_OUT = {"demo": (None, (1, 1, 8, 8)), "mobilenet_v2": ("edgec.models.mobilenet_v2:make_model", (1, 3, 224, 224))}
FITTED = (
    "int8_gmacs",
    "float32_gmacs",
    "bandwidth_gbs",
    "layer_overhead_us",
    "run_overhead_us",
    "depthwise_efficiency",
)


def build(name: str, source: str | None, shape: tuple[int, ...], target: str, folder: Path) -> Path:
    calib = folder / f"{name}.npz"
    np.savez(calib, input=np.random.default_rng(0).normal(0, 1, (32, *shape[1:])).astype(np.float32))
    options = CompileOptions(
        source=source,
        target=target,
        input_shapes=(shape,) if source else (),
        calib=calib if source else None,
        output=folder / f"{name}-{target}",
        min_agreement=0.0,
        search=False,
        progress=False,
    )
    return compile(options).path


def onnx_pair(path: Path) -> dict[str, bytes]:
    """The float baseline and the int8 artifact of a host-x86 build."""
    return {
        "float32": (path / "baseline.float32.onnx").read_bytes(),
        "int8": next(path.glob("*.int8.onnx")).read_bytes(),
    }


def fit(cost: Cost, samples: list[tuple[CostGraph, float]]) -> Cost:
    """Coordinate descent on log-scaled constants: few parameters, a smooth objective, no solver needed."""

    def loss(candidate: Cost) -> float:
        return sum(math.log(estimate_latency(g, candidate).ms / ms) ** 2 for g, ms in samples)

    best, best_loss = cost, loss(cost)
    for step in (4.0, 2.0, 1.4, 1.15, 1.05):
        improved = True
        while improved:
            improved = False
            for name in FITTED:
                for factor in (step, 1 / step):
                    value = getattr(best, name) * factor
                    if name == "depthwise_efficiency":
                        value = min(value, 1.0)
                    trial = dataclasses.replace(best, **{name: value})
                    if (trial_loss := loss(trial)) < best_loss - 1e-9:
                        best, best_loss, improved = trial, trial_loss, True
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load = check_load()
    host = load_profile("host-x86")
    assert host.cost is not None
    rng = np.random.default_rng(0)
    measured: dict[str, tuple[CostGraph, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        models = {**{n: (f"cost_shapes:{n}", s) for n, s in SHAPES.items()}, **HELD_OUT}
        for name, (source, shape) in models.items():
            print(f"compiling {name} for host-x86 ...", flush=True)
            pair = onnx_pair(build(name, source, shape, "host-x86", folder))
            feeds = {OnnxModel.from_bytes(pair["int8"]).inputs[0].name: rng.normal(0, 1, shape).astype(np.float32)}
            stats = time_peers(pair, feeds, host.threads, rounds=args.rounds, pause=0.2)
            for dtype, data in pair.items():
                measured[f"{name}.{dtype}"] = (onnx_cost_graph(OnnxModel.from_bytes(data)), stats[dtype]["p50_ms"])
        arenas = {}
        for name, (source, shape) in HELD_OUT.items():
            print(f"compiling {name} for rpi4 ...", flush=True)
            flatbuffer = next(build(name, source, shape, "rpi4", folder).glob("*.tflite")).read_bytes()
            graph = tflite_cost_graph(inspect_tflite(flatbuffer), len(flatbuffer))
            arenas[name] = {
                "estimate": peak_activations(graph, "im2col").bytes,
                "planned": planned_arena_bytes(flatbuffer),
            }
    calibration = [sample for key, sample in measured.items() if key.split(".")[0] in SHAPES]
    fitted = fit(host.cost, calibration)
    print(f"\nonnxruntime {onnxruntime.__version__}, {host.threads} threads, batch 1, load average {load:.2f}")
    print("fitted: " + ", ".join(f"{n} {getattr(fitted, n):.4g}" for n in FITTED))
    header = f"{'model':<28} {'MACs':>12} {'layers':>6} {'measured':>10} {'fitted est':>10} {'ratio':>6}"
    print(f"\n{header} {'profile est':>11} {'ratio':>6}")
    rows = {}
    for key, (graph, ms) in measured.items():
        fit_ms, profile_ms = estimate_latency(graph, fitted).ms, estimate_latency(graph, host.cost).ms
        held = "  (held out)" if key.split(".")[0] in HELD_OUT else ""
        rows[key] = {
            "macs": graph.macs,
            "measured_ms": ms,
            "fitted_ms": fit_ms,
            "profile_ms": profile_ms,
            "held_out": bool(held),
        }
        print(
            f"{key:<28} {graph.macs:>12,} {len(graph.layers):>6} {ms:>8.4f}ms {fit_ms:>8.4f}ms {fit_ms / ms:>6.2f}"
            f" {profile_ms:>9.4f}ms {profile_ms / ms:>6.2f}{held}"
        )
    print(f"\n{'model (rpi4 .tflite)':<28} {'liveness estimate':>18} {'LiteRT planned':>15} {'ratio':>6}")
    for name, arena in arenas.items():
        print(
            f"{name:<28} {arena['estimate']:>16,} B {arena['planned']:>13,} B "
            f"{arena['estimate'] / arena['planned']:>6.3f}"
        )
    plot(rows)
    path = save(
        "cost_model",
        {
            "onnxruntime": onnxruntime.__version__,
            "threads": host.threads,
            "load_average": load,
            "fitted": {n: getattr(fitted, n) for n in FITTED},
            "latency": rows,
            "arena": arenas,
        },
    )
    print(f"\nwrote {path} and {RESULTS / 'cost_model.png'}")


def plot(rows: dict[str, dict[str, float]]) -> None:
    from edgec.compiler.report_plots import png, pyplot

    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 5))
    for held, marker, label in ((False, "o", "calibration"), (True, "s", "held out")):
        points = [(r["measured_ms"], r["profile_ms"]) for r in rows.values() if r["held_out"] == held]
        axis.scatter(*zip(*points, strict=True), marker=marker, label=label)
    low = min(min(r["measured_ms"], r["profile_ms"]) for r in rows.values()) / 1.5
    high = max(max(r["measured_ms"], r["profile_ms"]) for r in rows.values()) * 1.5
    axis.plot([low, high], [low, high], "k-", lw=0.8)
    axis.fill_between([low, high], [low * 0.7, high * 0.7], [low * 1.3, high * 1.3], alpha=0.15, label="within 30%")
    axis.set(
        xscale="log", yscale="log", xlabel="measured p50 (ms)", ylabel="estimated (ms)", title="host-x86 cost model"
    )
    axis.legend()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cost_model.png").write_bytes(png(figure))


if __name__ == "__main__":
    main()
