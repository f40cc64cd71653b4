"""TensorFlow -> TFLite with TFLiteConverter and OUR calibration data, then verified.

Modes: float32; dynamic (int8 weights, float activations); int8 (full integer: every activation int8, with
float32, int8 or uint8 IO as the target profile says). Calibration samples are fed in the TF model's own
layout (the IoLayout permutation), so an NCHW dataset calibrates an NHWC model correctly. The result is
read back and must be what was asked for: a full-int8 artifact with a float tensor inside is an error.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError, ToolchainError
from ..kinds import Model
from ..kinds_tf import IoLayout, TfliteModel, TfModel
from ..quiet import captured_native_output, import_tensorflow, tail
from ..tflite_inspect import TfliteSummary
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

    def __post_init__(self) -> None:
        if self.mode not in MODES or self.io not in IO_TYPES:
            raise ValueError(f"mode must be one of {', '.join(MODES)} and io one of {', '.join(IO_TYPES)}")
        if self.io != "float32" and self.mode != "int8":
            raise ValueError(f"io={self.io} needs mode=int8 (integer IO exists only in full-integer models)")

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, TfModel)
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

    def verify(self, summary: TfliteSummary) -> None:
        """Raise when the artifact is not what was asked for: float inside a full-int8 model, wrong IO types."""
        problems = []
        if self.mode == "int8":
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
        if ctx.calibration is None:
            raise InputError("full-integer TFLite needs calibration data: pass --calib data.npz")
        converter.representative_dataset = lambda: _samples(ctx, layout)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[self.io]
        converter.inference_input_type = converter.inference_output_type = io_type


def _samples(ctx: Context, layout: IoLayout) -> Iterator[list[np.ndarray]]:
    data = ctx.calibration
    assert data is not None
    with ctx.progress.counter("calibrating (TFLite)", len(data)) as counter:
        for i in range(len(data)):
            counter.update()
            yield [np.transpose(data.inputs[name][i : i + 1], perm) for name, _, perm in layout.inputs]


def _name_inputs(layout: IoLayout, summary: TfliteSummary) -> IoLayout:
    """Attach the TFLite tensor names (e.g. 'serving_default_image:0') to the baseline's input names."""
    names = [t.name for t in summary.inputs]
    inputs = []
    for position, (name, _, perm) in enumerate(layout.inputs):
        match = next((n for n in names if n == name or n.startswith(f"serving_default_{name}:")), names[position])
        inputs.append((name, match, perm))
    return IoLayout(tuple(inputs), layout.outputs)
