"""MSE-optimal ranges and bias correction: each does what its math says, measured, not assumed."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from conftest import make_context
from edgec.compiler.activations import stream
from edgec.compiler.bias_correction import _rounded, conv_input_means, correct_biases
from edgec.compiler.data import Dataset
from edgec.compiler.kinds import OnnxModel
from edgec.compiler.mse_ranges import Histograms, best_range, bounds_of
from edgec.compiler.passes.quantize import Quantize
from edgec.runtimes.onnxruntime_runner import OnnxRuntimeExactRunner, OnnxRuntimeRunner


def _int8_error(values: np.ndarray, lo: float, hi: float) -> float:
    step = (hi - lo) / 255
    return float(((np.clip(np.round((values - lo) / step), 0, 255) * step + lo - values) ** 2).mean())


def test_mse_range_beats_minmax_on_heavy_tails_and_keeps_zero():
    signed = np.random.default_rng(0).standard_t(3, 200_000).astype(np.float32)  # heavy tails, as activations
    batch = {"signed": signed, "relu": np.maximum(signed, 0)}
    histograms = Histograms(bounds_of([batch]))
    histograms.add(batch)
    ranges = histograms.ranges()
    gains = {}
    for name, values in batch.items():
        lo, hi = ranges[name]
        assert lo <= 0 <= hi and hi < values.max()  # clips the tail, keeps zero representable
        gains[name] = _int8_error(values, lo, hi) / _int8_error(values, min(values.min(), 0), values.max())
    assert ranges["relu"][0] == 0.0
    assert gains["signed"] < 0.8 and gains["relu"] < 0.97, gains  # measured: 0.68 and 0.94


def test_mse_range_of_a_uniform_distribution_is_its_extent():
    counts = np.ones(2048)
    lo, hi = best_range(counts, -1.0, 3.0)
    assert lo == pytest.approx(-1.0, abs=0.02) and hi == pytest.approx(3.0, abs=0.02)  # nothing worth clipping


def _fake_quantized(model: OnnxModel, weights: str) -> OnnxModel:
    """The model with each conv weight replaced by its int8/uint8 round trip, per tensor, still in float."""
    proto = onnx.ModelProto()
    proto.CopyFrom(model.proto)
    inits = {i.name: i for i in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Conv":
            w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float64)
            rounded = _rounded(w, weights, reduce_range=False, per_channel=False).astype(np.float32)
            inits[node.input[1]].CopyFrom(numpy_helper.from_array(rounded, node.input[1]))
    return OnnxModel(proto)


@pytest.mark.parametrize("weights", ["int8", "uint8"])
def test_bias_correction_restores_each_conv_channel_mean(tiny_onnx, tiny_data, weights):
    model, _ = tiny_onnx
    data = Dataset({"image": tiny_data}, None, "tiny")
    corrected, names = correct_biases(model, conv_input_means(model, data, 16), weights, False, False, ())
    conv = next(n for n in model.proto.graph.node if n.op_type == "Conv")
    assert names == [conv.name]

    def channel_means(candidate: OnnxModel) -> np.ndarray:
        (batch,) = stream(candidate, data, [conv.output[0]], len(data))
        return batch[conv.output[0]].mean(axis=(0, 2, 3))

    target = channel_means(model)
    shift_before = np.abs(channel_means(_fake_quantized(model, weights)) - target).max()
    shift_after = np.abs(channel_means(_fake_quantized(corrected, weights)) - target).max()
    # the residual is the zero padding at the borders, which a per-channel input mean does not see
    assert shift_before > 1e-4 and shift_after < 0.3 * shift_before, (shift_before, shift_after)


def test_bias_correction_lowers_the_int8_output_bias(tiny_onnx, tiny_data):
    """End to end through ORT: per-tensor int8 weights leave a systematic output shift that correction cuts."""
    model, _ = tiny_onnx
    data = Dataset({"image": tiny_data}, None, "tiny")
    reference = OnnxRuntimeRunner(model.to_bytes()).run({"image": tiny_data})[0]

    def mean_bias(quantize: Quantize) -> float:
        quantized = quantize.run(model, make_context(data)).model
        output = OnnxRuntimeExactRunner(quantized.to_bytes()).run({"image": tiny_data})[0]  # any host's numbers
        return float(np.abs((output - reference).mean(axis=0)).mean())

    plain = mean_bias(Quantize(per_channel=False, bias_correction=False))
    assert mean_bias(Quantize(per_channel=False, bias_correction=True)) < 0.8 * plain  # measured: 0.64x
