"""edgec's int8 artifacts against what the peers give with their defaults, same models, same data, one process.

    python bench/peers.py [--models demo mobilenet] [--threads 1 2]

Why: edgec's pipeline (cleanup, per-channel S8S8 QDQ, full-int8 TFLite, validation) only earns its keep if
its artifacts beat what a user gets in a few lines from the libraries it wraps. Per model, `--target rpi4`
(an .int8.onnx and an .int8.tflite) is compared with:
  - ORT defaults: `quantize_static(baseline, out, reader)` with nothing else (QDQ, MinMax, per-tensor,
    QInt8/QInt8), and the same after `quant_pre_process`, which ORT's docs recommend;
  - TFLiteConverter defaults: the baseline's SavedModel (edgec's offline onnx2tf pass, so nothing reaches the
    network), `optimizations=[DEFAULT]` and `representative_dataset`, nothing else (float IO, default ops).
Every peer quantizes edgec's float baseline with the build's own calibration samples; every artifact is scored
in its real runtime against the baseline in ORT on the build's evaluation data, and all five are timed in
one interleaved round-robin at batch 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from common import check_load, save, time_peers
from edgec.compiler.api import BASELINE_FILE, BuildResult, CompileOptions, compile
from edgec.compiler.data import Dataset, load_dataset
from edgec.compiler.frontends.demo import demo_split
from edgec.compiler.kinds import OnnxModel
from edgec.compiler.kinds_tf import IoLayout, TfModel
from edgec.compiler.passes.base import Context
from edgec.compiler.passes.onnx_to_tf import OnnxToTf
from edgec.compiler.progress import Progress
from edgec.compiler.quiet import captured_native_output, import_tensorflow, quiet_loggers
from edgec.compiler.tflite_inspect import inspect_tflite
from edgec.compiler.validation.evaluate import compare, run_model
from edgec.targets.profile import load_profile

EVAL_THREADS = 2  # what edgec's validation uses here: the rpi4 profile's 4 threads capped by this host's cores
QUIET = Progress(False)
# Many short rounds (load on this shared host changes within seconds), each after a 50 ms pause so the previous
# runner's spinning threads are asleep: without it the model after a runtime switch ran 1.2-1.5x slower at 2T.
ROUNDS, RUNS, PAUSE = 30, 10, 0.05


@dataclass
class Contender:
    """One artifact: its bytes, the runtime it ships for, its layout vs the baseline, and what making it cost."""

    name: str
    runtime: str
    data: bytes
    seconds: float  # float ONNX baseline -> artifact, onnx2tf excluded (reported on its own)
    layout: IoLayout | None = None


class Samples(CalibrationDataReader):
    """The reader ORT's examples show: one sample per call, no batching, no rewinding."""

    def __init__(self, data: Dataset):
        self._samples: Iterator[dict[str, np.ndarray]] = (
            {name: array[i : i + 1] for name, array in data.inputs.items()} for i in range(len(data))
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._samples, None)


def warm_imports() -> None:
    """Import torch, TensorFlow, onnx2tf and ORT's quantizer before any clock starts: whichever contender ran
    first would otherwise pay several seconds of imports the others get for free."""
    import torch  # noqa: F401

    import_tensorflow()
    with captured_native_output():  # TensorFlow's start-up chatter
        import onnx2tf  # noqa: F401


def build_edgec(options: CompileOptions) -> tuple[BuildResult, float]:
    """The whole compile with a fresh cache: import, both int8 pipelines AND validation of both artifacts."""
    started = time.perf_counter()
    result = compile(options)
    return result, time.perf_counter() - started


def edgec_contenders(result: BuildResult, tflite_layout: IoLayout) -> tuple[Contender, Contender, float]:
    """edgec's .onnx and .tflite, each costed by its own pipeline's passes minus onnx-to-tf (returned apart)."""
    artifacts = {art["format"]: art for art in result.report["artifacts"]}
    made = {}
    for fmt, art in artifacts.items():
        data = (result.path / art["file"]).read_bytes()
        seconds = sum(p["seconds"] for p in art["passes"] if p["name"] != "onnx-to-tf")
        layout = named(tflite_layout, data) if fmt == "tflite" else None
        made[fmt] = Contender(f"edgec {fmt}", art["runtime"], data, seconds, layout)
    onnx2tf = next(p["seconds"] for p in artifacts["tflite"]["passes"] if p["name"] == "onnx-to-tf")
    return made["onnx"], made["tflite"], onnx2tf


def ort_default(baseline: Path, calibration: Dataset, folder: Path, pre_process: bool) -> Contender:
    """`quantize_static` with only the required arguments, optionally after ORT's recommended pre-processing."""
    source, target = baseline, folder / f"ort{'-pre' if pre_process else ''}.int8.onnx"
    started = time.perf_counter()
    with quiet_loggers(""):  # ORT logs its 'please pre-process' advice through the root logger
        if pre_process:
            source = folder / "pre.onnx"
            quant_pre_process(str(baseline), str(source))
        quantize_static(str(source), str(target), Samples(calibration))
    seconds = time.perf_counter() - started
    name = "ORT pre-process + default" if pre_process else "ORT default"
    return Contender(name, "onnxruntime", target.read_bytes(), seconds)


def saved_model(baseline: OnnxModel) -> tuple[TfModel, float]:
    """The baseline through edgec's offline onnx2tf wrapper (batch kept, NCHW -> NHWC recorded)."""
    started = time.perf_counter()
    result = OnnxToTf().run(baseline, Context(load_profile("rpi4"), None, QUIET))
    assert isinstance(result.model, TfModel)
    return result.model, time.perf_counter() - started


def tflite_default(model: TfModel, calibration: Dataset, folder: Path) -> Contender:
    """TFLiteConverter with DEFAULT optimizations and our calibration samples in the SavedModel's layout."""
    tf: Any = import_tensorflow()

    def representative() -> Iterator[list[np.ndarray]]:
        for i in range(len(calibration)):
            yield [np.transpose(calibration.inputs[name][i : i + 1], perm) for name, _, perm in model.layout.inputs]

    started = time.perf_counter()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(model.extract(folder / "saved_model")))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    with captured_native_output():
        data = bytes(converter.convert())
    return Contender("TFLite default", "litert", data, time.perf_counter() - started, named(model.layout, data))


def named(layout: IoLayout, tflite: bytes) -> IoLayout:
    """The SavedModel's layout under the .tflite's own input names (in order), as LiteRT wants its feeds."""
    names = [t.name for t in inspect_tflite(tflite).inputs]
    return IoLayout(tuple((b, n, p) for (b, _, p), n in zip(layout.inputs, names, strict=True)), layout.outputs)


def score(contenders: list[Contender], baseline: bytes, evaluation: Dataset) -> dict[str, dict[str, Any]]:
    """Each artifact in its own runtime vs the float baseline in ORT, as edgec's validation does it."""
    reference = run_model("onnxruntime", baseline, evaluation, EVAL_THREADS, QUIET, "float baseline")
    scores = {}
    for c in contenders:
        run = run_model(c.runtime, c.data, evaluation, EVAL_THREADS, QUIET, c.name, c.layout)
        scores[c.name] = dataclasses.asdict(compare(c.name, reference, run, evaluation.labels))
    return scores


def ratios(latency: dict[int, dict[str, dict[str, float]]]) -> dict[str, dict[int, tuple[float, str]]]:
    """edgec p50 / the fastest peer's p50 in the same format, per thread count (< 1 means edgec is faster)."""
    peers = {"edgec onnx": ("ORT default", "ORT pre-process + default"), "edgec tflite": ("TFLite default",)}
    out: dict[str, dict[int, tuple[float, str]]] = {}
    for ours, theirs in peers.items():
        for threads, stats in latency.items():
            best = min(theirs, key=lambda name: stats[name]["p50_ms"])
            out.setdefault(ours, {})[threads] = (stats[ours]["p50_ms"] / stats[best]["p50_ms"], best)
    return out


def table(
    contenders: list[Contender],
    scores: dict[str, dict[str, Any]],
    latency: dict[int, dict[str, dict[str, float]]],
    ratio: dict[str, dict[int, tuple[float, str]]],
) -> str:
    """One markdown row per artifact; the ratio column is filled on edgec's rows only."""
    threads = list(latency)
    head = ["artifact", "KiB", "drop (points)", "agreement", "SQNR dB"]
    head += [f"{t}T p50 / p90 ms" for t in threads] + ["edgec / fastest peer (p50)", "convert s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in contenders:
        s = scores[c.name]
        drop = "-" if s["accuracy_drop_points"] is None else f"{s['accuracy_drop_points']:.2f}"
        cells = [c.name, f"{len(c.data) / 1024:,.1f}", drop, f"{s['drift']['agreement']:.3f}"]
        cells.append(f"{s['drift']['sqnr_db']:.1f}")
        cells += [f"{latency[t][c.name]['p50_ms']:.3g} / {latency[t][c.name]['p90_ms']:.3g}" for t in threads]
        cells.append(" / ".join(f"{ratio[c.name][t][0]:.2f}x" for t in threads) if c.name in ratio else "")
        cells.append(f"{c.seconds:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def case_data(name: str, folder: Path, calib_samples: int) -> dict[str, Any]:
    """Compile options for the model; the demo needs none (no model and no data = the demo and its splits).

    MobileNetV2 as in bench/mobilenet_int8.py: seeded random inputs, the last 16 held back for evaluation."""
    if name == "demo":
        return {}
    calib = folder / "calib.npz"
    np.savez(calib, input=np.random.default_rng(0).normal(0, 1, (calib_samples + 16, 3, 224, 224)).astype(np.float32))
    return {
        "source": "edgec.models.mobilenet_v2:make_model",
        "input_shapes": ((1, 3, 224, 224),),
        "calib": calib,
        "holdout": 16 / (calib_samples + 16),
        "min_agreement": 0.0,  # random weights: agreement is measured, not gated (as in the other benches)
    }


def run_case(name: str, folder: Path, thread_counts: list[int], calib_samples: int) -> dict[str, Any]:
    """Build, convert, score and time one model; print its table and return everything for the JSON."""
    options = CompileOptions(
        target="rpi4", output=folder / "build", cache_dir=folder / "cache", **case_data(name, folder, calib_samples)
    )
    result, compile_seconds = build_edgec(options)
    baseline_path = result.path / BASELINE_FILE
    baseline = OnnxModel.from_bytes(baseline_path.read_bytes())
    if options.calib is None:  # the demo: the splits compile() itself uses
        calibration, evaluation = demo_split("calib"), demo_split("eval")
    else:  # the same split compile() makes
        calibration, evaluation = load_dataset(options.calib, baseline.inputs, "calib").split_holdout(options.holdout)
    tf_model, peer_onnx2tf = saved_model(baseline)
    edgec_onnx, edgec_tflite, edgec_onnx2tf = edgec_contenders(result, tf_model.layout)
    contenders = [
        edgec_onnx,
        ort_default(baseline_path, calibration, folder, pre_process=False),
        ort_default(baseline_path, calibration, folder, pre_process=True),
        edgec_tflite,
        tflite_default(tf_model, calibration, folder),
    ]
    scores = score(contenders, baseline.to_bytes(), evaluation)
    feeds = {spec.name: evaluation.inputs[spec.name][:1] for spec in baseline.inputs}
    models: dict[str, bytes | tuple[str, bytes]] = {c.name: (c.runtime, c.data) for c in contenders}
    layouts = {c.name: c.layout for c in contenders if c.layout}
    load = os.getloadavg()[0]  # includes this process's own compile work of the last minute
    with captured_native_output():  # LiteRT announces XNNPACK on every load
        latency = {t: time_peers(models, feeds, t, ROUNDS, RUNS, layouts=layouts, pause=PAUSE) for t in thread_counts}
    ratio = ratios(latency)
    tflite = {c.name: inspect_tflite(c.data) for c in contenders if c.runtime == "litert"}
    print(f"\n### {name}: {len(calibration)} calibration / {len(evaluation)} evaluation samples\n")
    print(table(contenders, scores, latency, ratio))
    print(
        f"\nedgec whole compile {compile_seconds:.1f} s (export, cleanup, both quantizations, onnx2tf, validation "
        f"of both artifacts; gate {'passed' if result.passed else 'FAILED'}); onnx2tf, not in 'convert s': "
        f"edgec's pass {edgec_onnx2tf:.1f} s, the peers' run {peer_onnx2tf:.1f} s"
    )
    for ours, per_thread in ratio.items():
        parts = [f"{t}T {r:.2f}x vs {peer}" for t, (r, peer) in per_thread.items()]
        print(f"{ours} p50 / fastest peer p50: " + ", ".join(parts))
    same = edgec_tflite.data == contenders[-1].data
    print(f"load average when timing started {load:.2f}; edgec tflite", end=" ")
    if same:  # two copies of one file: whatever separates their latencies is this host's noise
        noise = [f"{t}T {ratio['edgec tflite'][t][0]:.2f}x" for t in thread_counts]
        print(f"is byte-identical to the TFLite default, so its ratio is the noise floor: {', '.join(noise)}")
    else:
        print("differs from the TFLite default")
    for label, summary in tflite.items():
        print(f"{label}: {len(summary.float_activations())} float activation tensors; ops {summary.op_counts}")
    return {
        "samples": {"calibration": len(calibration), "evaluation": len(evaluation)},
        "edgec_compile_seconds": compile_seconds,
        "edgec_gate_passed": result.passed,
        "edgec_pass_seconds": {
            art["format"]: {p["name"]: p["seconds"] for p in art["passes"]} for art in result.report["artifacts"]
        },
        "onnx2tf_seconds": {"edgec": edgec_onnx2tf, "peer": peer_onnx2tf},
        "artifacts": {
            c.name: {"runtime": c.runtime, "size_bytes": len(c.data), "convert_seconds": c.seconds, **scores[c.name]}
            for c in contenders
        },
        "tflite_ops": {k: v.op_counts for k, v in tflite.items()},
        "edgec_tflite_identical_to_default": same,
        "load_average_at_timing": load,
        "latency": latency,
        "ratio_vs_fastest_peer": ratio,
    }


def versions() -> dict[str, str]:
    """Runtime and converter versions, and the edgec commit: the compiler changes under this benchmark."""
    tools = {p: importlib.metadata.version(p) for p in ("onnxruntime", "ai-edge-litert", "tensorflow", "onnx2tf")}
    git = ["git", "-C", str(Path(__file__).parent.parent)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--", ".", ":!bench"], capture_output=True, text=True).stdout
    return {**tools, "edgec": commit + (" + uncommitted changes" if dirty.strip() else "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=["demo", "mobilenet"], default=["demo", "mobilenet"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--calib-samples", type=int, default=64)
    args = parser.parse_args()
    load = check_load()
    warm_imports()
    tools = versions()
    runtimes = ", ".join(f"{k} {v}" for k, v in tools.items())
    print(f"{runtimes}; load average {load:.2f}; batch 1, threads {args.threads}")
    cases = {}
    for name in args.models:
        with tempfile.TemporaryDirectory() as tmp:
            cases[name] = run_case(name, Path(tmp), args.threads, args.calib_samples)
    path = save("peers", {"versions": tools, "load_average": load, "rounds_runs_pause": [ROUNDS, RUNS, PAUSE], **cases})
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
