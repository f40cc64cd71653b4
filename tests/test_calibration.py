"""MSE-optimal ranges and bias correction: each does what its math says, measured, not assumed."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_context
from edgec.compiler.bias_correction import correct_biases
from edgec.compiler.data import Dataset
from edgec.compiler.mse_ranges import Histograms, best_range, bounds_of
from edgec.compiler.passes.quantize import Quantize
from edgec.runtimes.onnxruntime_runner import OnnxRuntimeRunner


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


def test_bias_correction_cancels_the_mean_shift_of_coarse_weights(tiny_onnx, tiny_data):
    """Per-tensor weights with one large weight round the rest coarsely: a systematic per-channel shift."""
    model, _ = tiny_onnx
    data = Dataset({"image": tiny_data}, None, "tiny")
    reference = OnnxRuntimeRunner(model.to_bytes()).run({"image": tiny_data})[0]

    def mean_bias(quantize: Quantize) -> float:
        quantized = quantize.run(model, make_context(data)).model
        output = OnnxRuntimeRunner(quantized.to_bytes()).run({"image": tiny_data})[0]
        return float(np.abs((output - reference).mean(axis=0)).mean())

    plain = mean_bias(Quantize(per_channel=False))
    corrected = mean_bias(Quantize(per_channel=False, bias_correction=True))
    assert corrected < 0.7 * plain, (plain, corrected)
    _, names = correct_biases(model, data, 16, False, False, (), lambda _: None)
    assert len(names) == 1  # the tiny model's single conv


def test_bias_correction_needs_int8_weights():
    with pytest.raises(ValueError, match="needs weights=int8"):
        Quantize(weights="uint8", bias_correction=True)
