"""What every benchmark shares: a load check, interleaved peer timing, and where results go."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgec.compiler.kinds import OnnxModel
from edgec.compiler.kinds_tf import IoLayout
from edgec.runtimes import open_runner
from edgec.runtimes.layout import artifact_inputs
from edgec.runtimes.timing import summarize_ms, time_runs

RESULTS = Path(__file__).parent / "results"


def check_load() -> float:
    """The 1-minute load average; on 2 vCPUs a busy neighbour doubles latencies, so it is reported."""
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.2f} before the benchmark; latencies may be inflated")
    return load


def time_peers(
    models: dict[str, bytes | tuple[str, bytes]],
    feeds: dict[str, np.ndarray],
    threads: int,
    rounds: int = 5,
    runs: int = 20,
    warmup: int = 5,
    layouts: dict[str, IoLayout] | None = None,
    pause: float = 0.0,
) -> dict[str, dict[str, float]]:
    """Time each model in rounds that alternate between peers, so drift in machine load hits all alike.

    A model is ONNX bytes, or (runtime, bytes) for another runtime. `layouts` gives a model its own axis order
    (e.g. NHWC for a TFLite artifact of an NCHW baseline), so ONNX and TFLite peers share one round-robin.
    `pause` seconds before each model's turn let the previous runner's worker threads stop spinning: with 2
    threads on 2 vCPUs, fine interleaving without it slowed whichever model came next by up to 1.5x."""
    runners = {}
    for name, model in models.items():
        runtime, data = model if isinstance(model, tuple) else ("onnxruntime", model)
        runners[name] = open_runner(runtime, data, threads=threads)
    # each runner gets the arrays under its own input names, in order (TFLite names differ from ONNX's)
    own = {
        name: dict(zip(r.input_names, artifact_inputs(feeds, (layouts or {}).get(name)).values(), strict=True))
        for name, r in runners.items()
    }
    for name, runner in runners.items():
        time_runs(runner, own[name], warmup)
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, runner in runners.items():
            time.sleep(pause)
            samples[name] += time_runs(runner, own[name], runs)
    return {name: summarize_ms(values) for name, values in samples.items()}


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def float_vs_int8(
    models: dict[str, bytes | tuple[str, bytes]], feeds: dict[str, np.ndarray], thread_counts: list[int]
) -> dict[int, dict[str, Any]]:
    """Time the 'float32' and 'int8' peers at each thread count; print and return p50/p90 and the speed-up."""
    print(f"{'threads':>7} {'float p50':>10} {'float p90':>10} {'int8 p50':>9} {'int8 p90':>9} {'speed-up':>9}")
    rows: dict[int, dict[str, Any]] = {}
    for threads in thread_counts:
        stats = time_peers(models, feeds, threads)
        ratio = stats["float32"]["p50_ms"] / stats["int8"]["p50_ms"]
        rows[threads] = {**stats, "speedup_p50": ratio}
        print(
            f"{threads:>7} {stats['float32']['p50_ms']:>8.2f}ms {stats['float32']['p90_ms']:>8.2f}ms "
            f"{stats['int8']['p50_ms']:>7.2f}ms {stats['int8']['p90_ms']:>7.2f}ms {ratio:>8.2f}x"
        )
    return rows


def float_baseline(source: str, input_shape: tuple[int, ...], calibration: np.ndarray, folder: Path) -> OnnxModel:
    """edgec's own float export of a model factory (`module:factory`), as every build starts from."""
    import onnx

    from edgec.compiler.api import CompileOptions, compile
    from edgec.compiler.pipeline import Overrides

    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "calib.npz", input=calibration)
    options = CompileOptions(
        source=source,
        target="rpi4",
        input_shapes=(input_shape,),
        calib=folder / "calib.npz",
        output=folder / "build",
        overrides=Overrides(quantize=False),
        min_agreement=0.0,
        progress=False,
    )
    return OnnxModel(onnx.load(compile(options).path / "baseline.float32.onnx"))
