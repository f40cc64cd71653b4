"""TensorFlow -> TFLite with TFLiteConverter and OUR calibration data, then verified.

Modes: float32; dynamic (int8 weights, float activations); int8 (full integer: every activation int8, with
float32, int8 or uint8 IO as the target profile says). Calibration samples are fed in the TF model's own
layout (the IoLayout permutation), so an NCHW dataset calibrates an NHWC model correctly. The result is
read back and must be what was asked for: a full-int8 artifact with a float tensor inside is an error.

Selective quantization (`exclude_nodes`, what the fallback search varies) keeps the named ops in float. It
calibrates once (the calibrated float model is kept in the context's scratch folder) and then quantizes
with a denylist through `mlir_quantize`, the function TFLite's QuantizationDebugger itself uses for
`denylisted_nodes`; the debugger's public constructor would recalibrate on every trial.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..cache_store import read_scratch, scratch_path, write_scratch
from ..errors import InputError, ToolchainError
from ..kinds import Model
from ..kinds_tf import IoLayout, TfliteModel, TfModel
from ..macs import tflite_macs
from ..quiet import captured_native_output, import_tensorflow, tail
from ..tflite_inspect import TfliteSummary, inspect_tflite
from .base import Context, Pass, PassResult

MODES = ("float32", "dynamic", "int8")
IO_TYPES = ("float32", "int8", "uint8")


@dataclass(frozen=True)
class Tflite(Pass):
    name: ClassVar[str] = "tflite"
    accepts: ClassVar[str] = "tf"
    produces: ClassVar[str] = "tflite"
    uses_calibration: ClassVar[bool] = True
    libraries: ClassVar[tuple[str, ...]] = ("tensorflow", "ai-edge-litert")

    mode: str = "int8"
    io: str = "float32"
    # Ops kept in float, by the name of their output tensor or one ';'-separated part of it.
    exclude_nodes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES or self.io not in IO_TYPES:
            raise ValueError(f"mode must be one of {', '.join(MODES)} and io one of {', '.join(IO_TYPES)}")
        if self.io != "float32" and self.mode != "int8":
            raise ValueError(f"io={self.io} needs mode=int8 (integer IO exists only in full-integer models)")
        if self.exclude_nodes and (self.mode, self.io) != ("int8", "float32"):
            raise ValueError("exclude_nodes needs mode=int8 with io=float32: float ops inside need float IO")

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, TfModel)
        flatbuffer = self._selective(model, ctx) if self.exclude_nodes else self._convert(model, ctx)
        artifact = TfliteModel(flatbuffer)
        summary = artifact.summary
        self.verify(summary)
        artifact.layout = layout = _name_inputs(model.layout, summary)
        details = {
            "ops": summary.op_counts,
            "io": {t.name: t.dtype for t in summary.inputs + summary.outputs},
            "float_activations": len(summary.float_activations()),
            "layout": layout.describe(),
        }
        return PassResult(artifact, modified=True, details=details)

    def candidates(self, model: TfModel, ctx: Context) -> dict[str, int]:
        """The ops selective quantization can keep in float, by the short name `exclude_nodes` takes, with
        their MACs."""
        return {_short_name(name): macs for name, macs in tflite_macs(_calibrated(model, ctx)[1]).items()}

    def _convert(self, model: TfModel, ctx: Context) -> bytes:
        tf: Any = import_tensorflow()
        with tempfile.TemporaryDirectory() as tmp:
            converter = tf.lite.TFLiteConverter.from_saved_model(str(model.extract(Path(tmp) / "sm")))
            self._configure(tf, converter, model.layout, ctx)
            failure: Exception | None = None
            with captured_native_output() as output:
                try:
                    flatbuffer = converter.convert()
                except Exception as exc:
                    failure = exc
        if failure is not None:
            reason = str(failure).splitlines()[0][:300]
            raise ToolchainError(f"TFLiteConverter failed: {reason}; {tail(output, 4, 300)}")
        return flatbuffer

    def _selective(self, model: TfModel, ctx: Context) -> bytes:
        calibrated, summary = _calibrated(model, ctx)
        names = [summary.tensors[op.outputs[0]].name for op in summary.ops]
        denylist = []
        for wanted in self.exclude_nodes:
            matches = [n for n in names if n == wanted or wanted in n.split(";")]
            if not matches:
                known = ", ".join(sorted(_short_name(n) for n in tflite_macs(summary))[:8])
                raise InputError(f"tflite exclude_nodes: no op outputs a tensor named {wanted!r}; compute ops: {known}")
            denylist += matches
        convert = _mlir_quantize()
        with captured_native_output():
            return bytes(convert(calibrated, fully_quantize=False, denylisted_nodes=denylist))

    def verify(self, summary: TfliteSummary) -> None:
        """Raise when the artifact is not what was asked for: float inside a full-int8 model, wrong IO types."""
        problems = []
        if self.exclude_nodes:
            if not any(op.name in COMPUTE_OPS for op in summary.ops if summary.tensors[op.outputs[0]].dtype == "int8"):
                problems.append("every compute op stayed float")
        elif self.mode == "int8":
            floats = summary.float_activations()
            if floats:
                names = ", ".join(t.name for t in floats[:5])
                problems.append(f"{len(floats)} activation tensor(s) stayed float32 ({names})")
            wrong_io = [f"{t.name} is {t.dtype}" for t in summary.inputs + summary.outputs if t.dtype != self.io]
            if wrong_io:
                problems.append(f"IO should be {self.io} but {', '.join(wrong_io)}")
        elif self.mode == "float32" and not summary.float_activations() and summary.ops:
            problems.append("a float32 model has no float activations")
        if problems:
            raise ToolchainError(f"the {self.mode} TFLite artifact is not what was asked for: " + "; ".join(problems))

    def _configure(self, tf: Any, converter: Any, layout: IoLayout, ctx: Context) -> None:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if self.mode == "float32":
            return
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if self.mode == "dynamic":
            return
        _calibrate_with(converter, layout, ctx)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[self.io]
        converter.inference_input_type = converter.inference_output_type = io_type


COMPUTE_OPS = frozenset(
    ("CONV_2D", "CONV_3D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "TRANSPOSE_CONV")
)


def _calibrate_with(converter: Any, layout: IoLayout, ctx: Context) -> None:
    if ctx.calibration is None:
        raise InputError("full-integer TFLite needs calibration data: pass --calib data.npz")
    converter.representative_dataset = lambda: _samples(ctx, layout)


def _calibrated(model: TfModel, ctx: Context) -> tuple[bytes, TfliteSummary]:
    """The float model with calibration statistics, and its summary (reading it back is also how a cached
    entry is checked), from the scratch folder when this model and data were calibrated before (an unreadable
    entry is recomputed)."""
    if ctx.calibration is None:
        raise InputError("selective TFLite quantization needs calibration data: pass --calib data.npz")
    tf: Any = import_tensorflow()
    material = f"{model.fingerprint}:{ctx.calibration.sha256}:{tf.__version__}"
    path = scratch_path(ctx.scratch, "calibrated", material, __name__)
    cached = read_scratch(path)  # verified by its sha256
    if cached is not None:
        try:
            return cached, inspect_tflite(cached)
        except Exception:  # foreign entry: calibrate again
            pass
    with tempfile.TemporaryDirectory() as tmp:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(model.extract(Path(tmp) / "sm")))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        _calibrate_with(converter, model.layout, ctx)
        converter.experimental_mlir_quantizer = True
        converter._experimental_calibrate_only = True
        with captured_native_output():
            calibrated = bytes(converter.convert())
    write_scratch(path, calibrated)  # published whole: a torn file is never read
    return calibrated, inspect_tflite(calibrated)


def _mlir_quantize() -> Any:
    try:
        from tensorflow.lite.python.convert import mlir_quantize
    except ImportError as exc:
        raise ToolchainError(
            "selective TFLite quantization needs tensorflow.lite.python.convert.mlir_quantize, which this "
            "TensorFlow lacks; use the pinned tensorflow from constraints.txt"
        ) from exc
    return mlir_quantize


def _short_name(tensor_name: str) -> str:
    """The first ';'-separated part of a fused op's output name: enough to find it, and readable."""
    return tensor_name.split(";")[0]


def _samples(ctx: Context, layout: IoLayout) -> Iterator[list[np.ndarray] | dict[str, np.ndarray]]:
    """Calibration samples for the converter. Several inputs go by signature name: as a list they are matched
    to the flatbuffer's input order, which the conversion may permute (a streaming model's chunk and state came
    back as state, chunk, and calibration fed each the other's shape)."""
    data = ctx.calibration
    assert data is not None
    with ctx.progress.counter("calibrating (TFLite)", len(data)) as counter:
        for i in range(len(data)):
            counter.update()
            sample = {signed: np.transpose(data.inputs[name][i : i + 1], perm) for name, signed, perm in layout.inputs}
            yield sample if len(sample) > 1 else list(sample.values())


def _name_inputs(layout: IoLayout, summary: TfliteSummary) -> IoLayout:
    """Attach the TFLite tensor names (e.g. 'serving_default_image:0') to the baseline's input names."""
    names = [t.name for t in summary.inputs]
    inputs = []
    for position, (name, _, perm) in enumerate(layout.inputs):
        match = next((n for n in names if n == name or n.startswith(f"serving_default_{name}:")), names[position])
        inputs.append((name, match, perm))
    return IoLayout(tuple(inputs), layout.outputs)
