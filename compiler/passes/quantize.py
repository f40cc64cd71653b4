"""Static int8 quantization with ONNX Runtime's quantizer (QDQ format, per-channel weights).

The scheme (activation and weight dtypes, per-channel, reduce_range, symmetric activations) arrives as explicit
options that the pipeline builder fills from the target profile, so the pass never guesses a device and the
cache key and report both show exactly which scheme was used. ORT's `extra_options` string dict stays inside this file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..bias_correction import conv_input_means, correct_biases
from ..cache_store import read_scratch, scratch_path, write_scratch
from ..data import Dataset
from ..errors import InputError, ToolchainError, clip, require
from ..kinds import Model, OnnxModel
from ..macs import node_macs
from ..mse_ranges import mse_ranges
from ..quiet import quiet_loggers
from .base import Context, Pass, PassResult

CALIBRATIONS = ("minmax", "percentile", "entropy", "mse")
QDQ_OPSET = 13  # per-channel DequantizeLinear (its `axis`) and int32 bias dequantization need opset 13
DTYPES = ("int8", "uint8")


@dataclass(frozen=True)
class Quantize(Pass):
    name: ClassVar[str] = "quantize"
    accepts: ClassVar[str] = "onnx"
    produces: ClassVar[str] = "onnx"
    uses_calibration: ClassVar[bool] = True
    libraries: ClassVar[tuple[str, ...]] = ("onnxruntime", "onnx")

    calibration: str = "minmax"
    activations: str = "int8"
    weights: str = "int8"
    per_channel: bool = True
    reduce_range: bool = False
    symmetric_activations: bool = False  # zero points 0 (TensorRT's QDQ path); the calibrated ranges are the same
    quantize_bias: bool = True  # False for TensorRT, whose ONNX parser refuses int32 DequantizeLinear inputs
    percentile: float = 99.999
    batch_size: int = 16
    exclude_nodes: tuple[str, ...] = ()
    bias_correction: bool = True  # measured in bench/calibration.py: +2.1 dB digits, +0.3 dB MobileNetV2

    def __post_init__(self) -> None:
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {self.calibration!r}")
        for option in ("activations", "weights"):
            if getattr(self, option) not in DTYPES:
                raise ValueError(f"{option} must be int8 or uint8, got {getattr(self, option)!r}")
        if not 0 < self.percentile <= 100 or self.batch_size < 1:
            raise ValueError("percentile must be in (0, 100] and batch_size >= 1")

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, OnnxModel)
        if ctx.calibration is None:
            raise InputError("quantize needs calibration data: pass --calib data.npz (or --no-quantize)")
        quantization = require("onnxruntime.quantization", extra="compiler")
        onnx = require("onnx")
        types = {"int8": quantization.QuantType.QInt8, "uint8": quantization.QuantType.QUInt8}
        methods = {  # mse ranges are ours, handed to ORT as MinMax ranges
            "minmax": quantization.CalibrationMethod.MinMax,
            "percentile": quantization.CalibrationMethod.Percentile,
            "entropy": quantization.CalibrationMethod.Entropy,
            "mse": quantization.CalibrationMethod.MinMax,
        }
        model, upgraded = _with_qdq_opset(model, onnx)
        batch = self.batch_size if isinstance(model.inputs[0].batch, str) else 1
        ranges = self._ranges_path(model, ctx)
        corrected: list[str] = []
        with (
            tempfile.TemporaryDirectory() as tmp,
            ctx.progress.counter("calibrating", len(ctx.calibration)) as counter,
            quiet_loggers(""),  # ORT's quantizer warns through the root logger ...
            contextlib.redirect_stdout(io.StringIO()),  # ... and its entropy calibrator print()s
        ):
            if self.bias_correction:
                means = _conv_input_means(model, ctx, batch)
                scheme = (self.weights, self.per_channel, self.reduce_range)
                model, corrected = correct_biases(model, means, *scheme, self.exclude_nodes)
            source, target = os.path.join(tmp, "float.onnx"), os.path.join(tmp, "int8.onnx")
            onnx.save(model.proto, source)
            fresh_ranges = os.path.join(tmp, "ranges.json")
            kept = read_scratch(ranges)  # verified by its sha256; handed to ORT as a copy
            reuse = kept is not None and _is_json(kept)
            if kept is not None and reuse:
                with open(fresh_ranges, "wb") as handle:
                    handle.write(kept)
            if self.calibration == "mse" and not reuse:
                _save_ranges(mse_ranges(model, ctx.calibration, batch, counter.update), fresh_ranges, quantization)
            quantization.quantize_static(
                source,
                target,
                None if reuse or self.calibration == "mse" else _Reader(ctx.calibration, batch, counter),
                quant_format=quantization.QuantFormat.QDQ,
                per_channel=self.per_channel,
                reduce_range=self.reduce_range,
                activation_type=types[self.activations],
                weight_type=types[self.weights],
                calibrate_method=methods[self.calibration],
                nodes_to_exclude=list(self.exclude_nodes),
                extra_options=self._extra_options(),
                calibration_cache_path=fresh_ranges,
            )
            if ranges is not None and not reuse:
                with open(fresh_ranges, "rb") as handle:
                    write_scratch(ranges, handle.read())  # published whole: a torn ranges file is never read
            output = OnnxModel(onnx.load(target))
        details = _qdq_summary(output)
        if upgraded:
            details["opset_upgraded"] = upgraded
        if self.bias_correction:
            details["bias_corrected"] = corrected
        return PassResult(output, modified=True, details=details)

    def candidates(self, model: OnnxModel, ctx: Context) -> dict[str, int]:
        """The compute nodes `exclude_nodes` can keep in float, with their MACs."""
        return node_macs(model)

    def _ranges_path(self, model: OnnxModel, ctx: Context) -> Path | None:
        """Where this model's calibration ranges are kept, so re-quantizing with other exclusions (the
        fallback search) reuses them instead of calibrating again. Keyed by all that changes the ranges but
        the exclusions: with bias correction, keeping a conv float (uncorrected) moves its outputs' ranges by
        the small shift correction would have applied, which the shared ranges accept. The weight scheme is in
        the key because bias correction calibrates the corrected model, whose biases follow the weights'
        rounding: rpi4 (full-range weights) and x86-avx2 (reduce_range) must not share ranges, or whichever
        compile writes first decides the other's artifact."""
        if ctx.scratch is None or ctx.calibration is None:
            return None
        weights = f"{self.weights}:{self.per_channel}:{self.reduce_range}" if self.bias_correction else ""
        scheme = f"{self.calibration}:{self.percentile}:{self.bias_correction}:{weights}"
        material = f"{model.fingerprint}:{ctx.calibration.sha256}:{scheme}:{_ort_version()}"
        return scratch_path(ctx.scratch, "ranges", material, __name__)

    def _extra_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "CalibStridedMinMax": 1,  # one batch per collect call: see _Reader
            "CalibMovingAverage": False,
            "ActivationSymmetric": self.symmetric_activations,
            "QuantizeBias": self.quantize_bias,
        }
        if self.calibration == "percentile":
            options["CalibPercentile"] = self.percentile
        return options


class _Reader:
    """Feeds calibration batches to ORT and advances the progress counter.

    ORT's calibrators keep every batch's activations until `collect_data` returns, which for the histogram
    methods grows with the calibration set. With `CalibStridedMinMax` ORT instead calls `collect_data` once
    per range this reader is `set_range` to (`len` counts batches), and each call folds its batches into the
    running ranges or fixed-size histograms and drops them: memory is bounded by one range's activations."""

    def __init__(self, data: Dataset, batch: int, counter: Any):
        self._data, self._batch, self._counter = data, batch, counter
        self._next, self._end = 0, len(self)

    def __len__(self) -> int:
        return -(-len(self._data) // self._batch)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._next, self._end = start_index, min(end_index, len(self))

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._next >= self._end:
            return None
        start = self._next * self._batch
        stop = min(start + self._batch, len(self._data))
        self._counter.update(stop - start)
        self._next += 1
        return {name: array[start:stop] for name, array in self._data.inputs.items()}

    def rewind(self) -> None:
        self._next, self._end = 0, len(self)


COMPUTE_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def _conv_input_means(model: OnnxModel, ctx: Context, batch: int) -> dict[str, np.ndarray]:
    """Bias correction's statistics, kept in the scratch folder so the search's trials compute them once."""
    assert ctx.calibration is not None
    material = f"{model.fingerprint}:{ctx.calibration.sha256}"
    path = scratch_path(ctx.scratch, "conv-means", material, conv_input_means.__module__)
    kept = read_scratch(path)  # verified by its sha256
    if kept is not None:
        try:
            with np.load(io.BytesIO(kept), allow_pickle=False) as cached:
                return {name: cached[name] for name in cached.files}
        except (OSError, ValueError):  # written by another numpy that this one cannot read: compute again
            pass
    means = conv_input_means(model, ctx.calibration, batch)
    if path is not None:
        buffer = io.BytesIO()
        # Any: numpy's stubs let a ** key be savez's allow_pickle (a bool, a recent parameter); passing
        # allow_pickle itself would save it as an array under an older numpy, such as a device may have
        arrays: dict[str, Any] = means
        np.savez(buffer, **arrays)
        write_scratch(path, buffer.getvalue())
    return means


def _save_ranges(ranges: dict[str, tuple[float, float]], path: str, quantization: Any) -> None:
    """Write our ranges where quantize_static reads a calibration cache (as MinMax ranges)."""
    calibrate = require("onnxruntime.quantization.calibrate")
    data = {name: (np.array([lo], np.float32), np.array([hi], np.float32)) for name, (lo, hi) in ranges.items()}
    calibrate.save_tensors_data(calibrate.TensorsData(quantization.CalibrationMethod.MinMax, data), path)


def _ort_version() -> str:
    return require("onnxruntime", extra="device").__version__


def _is_json(text: bytes) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _qdq_summary(model: OnnxModel) -> dict[str, Any]:
    """Show the artifact really is quantized: which compute ops take int8 weights and which stayed float.

    A converter that silently leaves a model in float is a known failure of the field, so a quantize that
    quantized no compute op at all is an error, not a report line.
    """
    graph = model.proto.graph
    produced_by = {out: node.op_type for node in graph.node for out in node.output}
    compute = [n for n in graph.node if n.op_type in COMPUTE_OPS]
    float_ops = [n.name or n.output[0] for n in compute if produced_by.get(n.input[1]) != "DequantizeLinear"]
    if compute and len(float_ops) == len(compute):
        raise ToolchainError(f"quantize left all {len(compute)} compute ops in float; the artifact would not be int8")
    counts = model.op_counts()
    return {
        "quantize_nodes": counts.get("QuantizeLinear", 0),
        "dequantize_nodes": counts.get("DequantizeLinear", 0),
        "int8_initializers": sum(1 for init in graph.initializer if init.data_type in (2, 3)),  # UINT8, INT8
        "quantized_compute_ops": len(compute) - len(float_ops),
        "float_compute_ops": float_ops,
    }


def _with_qdq_opset(model: OnnxModel, onnx: Any) -> tuple[OnnxModel, list[int]]:
    """The model at opset >= 13, upgraded with ONNX's version converter when older: ORT's quantizer writes
    opset-13 QDQ nodes into an opset-12 graph, which no runtime then loads ("Unrecognized attribute: axis").
    Returns [old, new] when it upgraded, so the pass details (and the report) say so."""
    opset = next((entry.version for entry in model.proto.opset_import if entry.domain in ("", "ai.onnx")), QDQ_OPSET)
    if opset >= QDQ_OPSET:
        return model, []
    from onnx import version_converter

    try:
        upgraded = version_converter.convert_version(model.proto, QDQ_OPSET)
    except Exception as exc:  # the converter lacks an adapter for one of the model's ops
        raise ToolchainError(
            f"the model is opset {opset} and int8 QDQ needs opset {QDQ_OPSET}; ONNX's version converter could not "
            f"upgrade it ({type(exc).__name__}: {clip(str(exc), 200)}); "
            f"re-export the model at opset {QDQ_OPSET} or later"
        ) from exc
    return OnnxModel(upgraded), [opset, QDQ_OPSET]
