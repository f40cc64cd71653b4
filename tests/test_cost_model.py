"""The cost model: liveness, scratch, roofline and budgets on hand-made graphs, and the arena estimate held
against LiteRT's own planner on real artifacts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgec.compiler.cost.analysis import analyze, cost_graph
from edgec.compiler.cost.arena_probe import planned_arena_bytes
from edgec.compiler.cost.graph import CostGraph, Layer, Window
from edgec.compiler.cost.latency import estimate_latency
from edgec.compiler.cost.liveness import peak_activations
from edgec.compiler.cost.scratch import scratch_bytes
from edgec.compiler.kinds import OnnxModel
from edgec.compiler.kinds_tf import TfliteModel
from edgec.targets.profile import Cost, known_targets, load_profile

SOURCES = {
    name: "datasheet: test"
    for name in (
        "int8_gmacs",
        "float32_gmacs",
        "float16_gmacs",
        "bandwidth_gbs",
        "layer_overhead_us",
        "run_overhead_us",
        "depthwise_efficiency",
    )
}


def _layer(name: str, reads: tuple[str, ...], writes: tuple[str, ...], **extra) -> Layer:
    return Layer(name, extra.pop("op", "Conv"), extra.pop("kind", "other"), "int8", 0, 0, reads, writes, **extra)


def _residual() -> CostGraph:
    """in -> a -> b -> add(a, b) -> out: `a` must stay live across `b` (the skip connection)."""
    layers = (
        _layer("A", ("in",), ("a",)),
        _layer("B", ("a",), ("b",)),
        _layer("Add", ("a", "b"), ("sum",)),
        _layer("Out", ("sum",), ("out",)),
    )
    sizes = {"in": 10, "a": 100, "b": 200, "sum": 50, "out": 5}
    return CostGraph("onnx", layers, sizes, ("in",), ("out",), 0, 1)


def test_liveness_keeps_skip_connections_and_inputs_alive():
    peak = peak_activations(_residual())
    # while Add runs: a (kept since A by the skip connection), b, the sum, and the input (kept for the whole run)
    assert peak.bytes == 100 + 200 + 50 + 10 and peak.layer == "Add"
    assert [name for name, _ in peak.live] == ["b", "a", "sum", "in"]
    no_skip = _residual().layers[2]
    chain = dataclasses.replace(
        _residual(), layers=(*_residual().layers[:2], dataclasses.replace(no_skip, reads=("b",)), _residual().layers[3])
    )
    peak = peak_activations(chain)  # a dies after B: the peak is B's input + output + the graph input
    assert peak.bytes == 10 + 100 + 200 and peak.layer == "B"


def test_scratch_rules():
    conv = _layer("C", ("x",), ("y",), kind="conv", window=Window(9, 16, 64, False, 1))
    pointwise = dataclasses.replace(conv, window=Window(1, 16, 64, False, 1))
    strided = dataclasses.replace(conv, window=Window(1, 16, 16, True, 1))
    depthwise = dataclasses.replace(conv, kind="depthwise")
    assert scratch_bytes(conv, "im2col") == 64 * 9 * 16  # a column per output pixel
    assert scratch_bytes(pointwise, "im2col") == 0  # a stride-1 1x1 reads its input in place
    assert scratch_bytes(strided, "im2col") == 16 * 1 * 16
    assert scratch_bytes(depthwise, "im2col") == 0
    assert scratch_bytes(conv, "cmsis-nn") == 2 * 9 * 16 * 2  # two int16 windows
    assert scratch_bytes(conv, "none") == 0


def test_roofline_takes_the_slower_side_and_adds_overheads():
    cost = Cost(10.0, 5.0, 1.0, layer_overhead_us=2.0, run_overhead_us=50.0, sources=SOURCES)
    compute = Layer("mm", "Gemm", "matmul", "int8", 10_000_000, 1000, ("x",), ("y",))  # 1 ms at 10 GMAC/s
    memory = Layer("copy", "Add", "other", "float32", 0, 0, ("y",), ("z",))
    graph = CostGraph("onnx", (compute, memory), {"x": 1000, "y": 1000, "z": 2_000_000}, ("x",), ("z",), 1000, 1)
    estimate = estimate_latency(graph, cost)
    mm, copy = estimate.layers
    assert mm.bound == "compute" and mm.ms == pytest.approx(1.0 + 0.002)
    assert copy.bound == "memory" and copy.ms == pytest.approx(2_001_000 / 1e6 + 0.002)  # 1 GB/s
    assert estimate.ms == pytest.approx(0.05 + mm.ms + copy.ms)
    float_mm = dataclasses.replace(compute, dtype="float32")
    slower = estimate_latency(dataclasses.replace(graph, layers=(float_mm,)), cost).layers[0]
    assert slower.ms == pytest.approx(2.0 + 0.002)  # half the int8 rate


def test_every_shipped_profile_says_where_each_cost_constant_comes_from():
    for target in known_targets():
        cost = load_profile(target).cost
        assert cost is not None, target
        origins = {source.partition(":")[0] for source in cost.sources.values()}
        assert origins <= {"measured", "published", "datasheet"}, target
    assert {s.partition(":")[0] for s in load_profile("host-x86").cost.sources.values()} == {"measured", "datasheet"}
    with pytest.raises(ValueError, match=r"cost\.sources\.int8_gmacs must say where"):
        Cost(1.0, 1.0, 1.0, 1.0, 1.0, sources={**SOURCES, "int8_gmacs": "a hunch"})


def test_demo_arena_estimate_matches_litert_planner(demo_build):
    """Acceptance: the liveness estimate against LiteRT's planned arena (delegates off), within 10%."""
    flatbuffer = next(demo_build.path.glob("*.tflite")).read_bytes()
    graph = cost_graph(TfliteModel(flatbuffer))
    planned = planned_arena_bytes(flatbuffer)
    estimate = peak_activations(graph, "im2col").bytes
    assert abs(estimate / planned - 1) <= 0.10, (estimate, planned)
    # the check can fail: without the convolutions' scratch the estimate is a quarter of the arena
    assert peak_activations(graph, "none").bytes < 0.5 * planned


def test_onnx_qdq_view_is_what_onnx_runtime_runs(demo_build):
    """DequantizeLinear -> op -> QuantizeLinear is one int8 kernel: only the graph edges keep Q/DQ layers, and
    the ONNX and TFLite artifacts of one model need the same arena."""
    int8 = OnnxModel.from_bytes(next(demo_build.path.glob("*.int8.onnx")).read_bytes())
    graph = cost_graph(int8)
    assert graph.ops.get("QuantizeLinear") == 1 and graph.ops.get("DequantizeLinear") == 1
    assert all(layer.dtype == "int8" for layer in graph.layers if layer.macs)
    assert graph.macs == demo_build.report["artifacts"][0]["macs"]
    tflite = cost_graph(TfliteModel(next(demo_build.path.glob("*.tflite")).read_bytes()))
    assert peak_activations(graph, "im2col").bytes == pytest.approx(peak_activations(tflite, "im2col").bytes, rel=0.02)
    baseline = cost_graph(OnnxModel.from_bytes((demo_build.path / "baseline.float32.onnx").read_bytes()))
    float_peak, int8_peak = (peak_activations(g, "im2col").bytes for g in (baseline, graph))
    assert float_peak == pytest.approx(4 * int8_peak, rel=0.05)  # the same tensors at 4 bytes a value


def test_report_carries_the_cost_of_every_artifact(demo_build):
    for artifact in demo_build.report["artifacts"]:
        cost = artifact["cost"]
        assert cost["flash_bytes"] == artifact["size_bytes"] and cost["macs"] == artifact["macs"]
        budgets = {b["resource"]: b for b in cost["budgets"]}
        assert budgets["RAM"]["available"] == 512 * 1024**2 and budgets["RAM"]["fits"]
        assert budgets["latency"]["available"] == 50.0 and 0 < cost["latency_estimate_ms"] < 50
        assert len(cost["layers"]) == sum(cost["ops"].values())
    assert "## Cost on rpi4" in (demo_build.path / "report.md").read_text()


@pytest.fixture(scope="module")
def small_mobilenet(tmp_path_factory, session_cache):
    from edgec.compiler.api import CompileOptions, compile

    folder = tmp_path_factory.mktemp("mobilenet")
    rng = np.random.default_rng(0)
    np.savez(folder / "calib.npz", input=rng.normal(0, 1, (48, 3, 32, 32)).astype(np.float32))
    options = CompileOptions(
        source="edgec_test_models:make_small_mobilenet",
        target="rpi4",
        input_shapes=((1, 3, 32, 32),),
        calib=folder / "calib.npz",
        output=folder / "build",
        min_agreement=0.0,
        search=False,
        cache_dir=session_cache,
        progress=False,
    )
    return compile(options)


@pytest.mark.slow
def test_residual_network_arena_matches_litert_planner(small_mobilenet):
    """Inverted residuals keep their input live across three convolutions; the planner agrees."""
    flatbuffer = next(small_mobilenet.path.glob("*.tflite")).read_bytes()
    graph = cost_graph(TfliteModel(flatbuffer))
    assert graph.ops["ADD"] >= 5 and graph.ops["DEPTHWISE_CONV_2D"] == 17
    planned = planned_arena_bytes(flatbuffer)
    assert abs(peak_activations(graph, "im2col").bytes / planned - 1) <= 0.10
    analysis = analyze(TfliteModel(flatbuffer), load_profile("rpi4"), "small.tflite")
    assert analysis.peak.bytes == peak_activations(graph, "im2col").bytes and analysis.fits
