"""Keras 3 -> ONNX (the float baseline) and Keras 3 -> TensorFlow SavedModel (the native route to TFLite).

Both use Keras's own `model.export`: its ONNX path (through tf2onnx) handles conv, depthwise and dense layers
with errors around 1e-8 (docs/toolchain.md item 7), while `tf2onnx.convert.from_keras` fails on Keras 3 models.
Keras models are channels-last, so the layout is the identity for both.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ToolchainError, require
from ..kinds import KerasModel, Model, OnnxModel
from ..kinds_tf import IoLayout, TfModel
from ..quiet import captured_native_output, import_tensorflow, tail
from .base import Context, Pass, PassResult


@dataclass(frozen=True)
class KerasToOnnx(Pass):
    name: ClassVar[str] = "keras-to-onnx"
    accepts: ClassVar[str] = "keras"
    produces: ClassVar[str] = "onnx"
    libraries: ClassVar[tuple[str, ...]] = ("keras", "tensorflow", "tf2onnx", "onnx")

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, KerasModel)
        onnx = require("onnx")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.onnx"
            _export(model.model, str(path), "onnx", None, "Keras -> ONNX")
            proto = onnx.load(str(path))
        return PassResult(OnnxModel(proto), modified=True, details={"exporter": "keras.Model.export(format='onnx')"})


@dataclass(frozen=True)
class KerasToTf(Pass):
    name: ClassVar[str] = "keras-to-tf"
    accepts: ClassVar[str] = "keras"
    produces: ClassVar[str] = "tf"
    libraries: ClassVar[tuple[str, ...]] = ("keras", "tensorflow")

    batch_size: int = 0  # 0 keeps the batch dimension dynamic; 1 fixes it (static shapes)

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, KerasModel)
        tf: Any = import_tensorflow()
        signature = None
        if self.batch_size:
            signature = [
                tf.TensorSpec((self.batch_size, *t.shape[1:]), t.dtype, name=t.name.split(":")[0])
                for t in model.model.inputs
            ]
        names = [t.name.split(":")[0] for t in model.model.inputs]
        layout = IoLayout(
            tuple((n, n, tuple(range(len(t.shape)))) for n, t in zip(names, model.model.inputs, strict=True)),
            tuple(tuple(range(len(t.shape))) for t in model.model.outputs),
        )
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "saved_model"
            _export(model.model, str(folder), "tf_saved_model", signature, "Keras -> SavedModel")
            tf_model = TfModel.from_folder(folder, layout)
        return PassResult(tf_model, modified=True, details={"batch": self.batch_size or "dynamic"})


def _export(keras_model: Any, path: str, fmt: str, signature: Any, what: str) -> None:
    with captured_native_output() as output:
        try:
            keras_model.export(path, format=fmt, input_signature=signature, verbose=False)
        except Exception as exc:
            failure: Exception | None = exc
        else:
            failure = None
    if failure is not None:
        raise ToolchainError(
            f"{what} failed with the pinned stack ({type(failure).__name__}: "
            f"{str(failure).splitlines()[0][:300]}); {tail(output, 3, 300)}"
        )
