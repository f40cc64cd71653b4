"""The LiteRT runner: integer IO handled like device code must, batch resizing, and its fallback order."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_context
from edgec.compiler.data import Dataset
from edgec.compiler.passes.onnx_to_tf import OnnxToTf
from edgec.compiler.passes.tflite import Tflite
from edgec.runtimes import litert_runner, metrics
from edgec.runtimes.litert_runner import LiteRtRunner


@pytest.fixture(scope="module")
def int8_models(tiny_onnx, tiny_data):
    tf_model = OnnxToTf().run(tiny_onnx[0], make_context()).model
    ctx = make_context(Dataset({"image": tiny_data}, None, "tiny"))
    return {io: Tflite(mode="int8", io=io).run(tf_model, ctx).model.flatbuffer for io in ("float32", "int8")}


def test_integer_io_takes_and_returns_floats(int8_models, tiny_data):
    nhwc = np.transpose(tiny_data, (0, 2, 3, 1))
    float_io, int_io = (LiteRtRunner(int8_models[io]) for io in ("float32", "int8"))
    (name,) = int_io.input_names
    expected = float_io.run({float_io.input_names[0]: nhwc})[0]
    got = int_io.run({name: nhwc})[0]
    assert got.dtype == np.float32
    assert metrics.sqnr_db(expected, got) > 30  # same int8 graph; only the IO rounding differs


def test_dynamic_batch_is_resized_per_call(int8_models, tiny_data):
    runner = LiteRtRunner(int8_models["float32"])
    (name,) = runner.input_names
    nhwc = np.transpose(tiny_data, (0, 2, 3, 1))
    assert runner.fixed_batch is None
    assert runner.run({name: nhwc[:5]})[0].shape == (5, 10)
    assert runner.run({name: nhwc[:3]})[0].shape == (3, 10)
    assert runner.version.startswith("ai_edge_litert ")


def test_falls_back_in_order_and_says_which_ran(monkeypatch):
    missing = ("not_installed_pkg", "not_installed_pkg.interpreter", "")
    monkeypatch.setattr(litert_runner, "IMPLEMENTATIONS", (missing, *litert_runner.IMPLEMENTATIONS[1:]))
    package, _, module = litert_runner.load_interpreter_module()
    assert package in ("tflite_runtime", "tensorflow") and hasattr(module, "Interpreter")
    monkeypatch.setattr(litert_runner, "IMPLEMENTATIONS", (missing,))
    with pytest.raises(ImportError, match="pip install ai-edge-litert"):
        litert_runner.load_interpreter_module()


def test_outputs_come_back_in_the_onnx_model_s_order(tmp_path):
    """Issue 25: a 3-output model came back from the conversion with its outputs permuted (1, 0, 2) in
    get_output_details(); validation compared outputs[0], the wrong tensor. Both TFLite runners now follow the
    serving signature (output_0, output_1, ...), the ONNX graph's order."""
    import onnx
    import onnxruntime as ort
    import torch
    from torch import nn

    from edgec.compiler.kinds import OnnxModel
    from edgec.runtimes.tflm_runner import TflmRunner

    class ThreeHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.c = nn.Linear(8, 3), nn.Linear(8, 5), nn.Linear(8, 2)

        def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return self.a(x + h), torch.tanh(self.b(x)), self.c(h)

    torch.manual_seed(0)
    path = tmp_path / "three.onnx"
    torch.onnx.export(ThreeHeads().eval(), (torch.zeros(1, 8), torch.zeros(1, 8)), str(path), input_names=["x", "h"],
                      output_names=["zeta", "alpha", "mid"], dynamo=False)  # fmt: skip
    ctx = make_context(target="rpi4")
    flat = Tflite(mode="float32").run(OnnxToTf(batch_size=1).run(OnnxModel(onnx.load(path)), ctx).model, ctx).model
    rng = np.random.default_rng(0)
    feeds = {"x": rng.normal(size=(1, 8)).astype(np.float32), "h": rng.normal(size=(1, 8)).astype(np.float32)}
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    for runner in (LiteRtRunner(flat.flatbuffer), TflmRunner(flat.flatbuffer)):
        got = runner.run(flat.layout.feeds(feeds))
        assert [o.shape for o in got] == [(1, 3), (1, 5), (1, 2)], runner.runtime
        for expected, actual in zip(want, got, strict=True):
            np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)
