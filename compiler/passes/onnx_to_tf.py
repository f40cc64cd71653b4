"""ONNX -> TensorFlow SavedModel with onnx2tf, offline, float only; quantization happens in the tflite pass.

onnx2tf's quirks stay in this file:
  - for image-like inputs it downloads a sample file to sanity-check its output, and fails offline: its
    download function is replaced by deterministic local data, and `requests` is refused outright, so the
    compiler can never reach the network;
  - it turns NCHW inputs into NHWC (channels last); the permutation is recorded in the model's IoLayout so
    validation feeds the TFLite artifact its own layout;
  - it prints and writes float32/float16 .tflite files we do not use; output is captured, files discarded;
  - it names layers from tf_keras's per-process counters, so the session is cleared before each conversion,
    and TF names functions from a process-wide uid counter, renumbered afterwards (saved_model_names.py).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ToolchainError, clip, require
from ..kinds import Model, OnnxModel
from ..kinds_tf import IoLayout, TfModel, channels_last, inverse
from ..process_setting import temporarily
from ..quiet import captured_native_output, import_tensorflow, tail
from ..saved_model_names import canonical_saved_model, reserve_uids
from .base import Context, Pass, PassResult


@dataclass(frozen=True)
class OnnxToTf(Pass):
    name: ClassVar[str] = "onnx-to-tf"
    accepts: ClassVar[str] = "onnx"
    produces: ClassVar[str] = "tf"
    libraries: ClassVar[tuple[str, ...]] = ("onnx2tf", "tensorflow", "tf_keras", "onnx")

    batch_size: int = 0  # 0 keeps the model's batch dimension; 1 fixes it (static shapes for MCUs, Edge TPU)

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, OnnxModel)
        import_tensorflow()
        onnx2tf, onnx2tf_limit = _onnx2tf()
        require("tf_keras").backend.clear_session()  # layer names use per-process counters: reset them so
        # converting the same model twice in one process gives the same bytes
        failure: BaseException | None = None
        tf_model: TfModel | None = None
        first_uid = reserve_uids()
        with (
            tempfile.TemporaryDirectory() as tmp,
            _offline(onnx2tf),
            temporarily(sys.getrecursionlimit, sys.setrecursionlimit, onnx2tf_limit),
            captured_native_output() as output,
        ):
            folder = Path(tmp) / "saved_model"
            try:
                keras_model = onnx2tf.convert(
                    onnx_graph=model.proto,
                    output_folder_path=str(folder),
                    output_signaturedefs=True,
                    non_verbose=True,
                    verbosity="error",
                    batch_size=self.batch_size or None,
                )
            except (Exception, SystemExit) as exc:  # onnx2tf calls sys.exit on some failures
                failure = exc
            else:
                if (folder / "saved_model.pb").exists():
                    canonical_saved_model(folder, first_uid)
                    for byproduct in folder.glob("*.tflite"):  # onnx2tf's own float TFLite files: the tflite pass
                        byproduct.unlink()  # converts the SavedModel itself, so caching them only costs space
                    tf_model = TfModel.from_folder(folder, _layout(model, keras_model))
        if tf_model is None:
            reason = f"{type(failure).__name__}: {clip(str(failure), 200)}" if failure else "no SavedModel was written"
            raise ToolchainError(f"onnx2tf could not convert the model ({reason}); last output: {tail(output, 5)}")
        return PassResult(tf_model, modified=True, details={"layout": tf_model.layout.describe()})


def _layout(model: OnnxModel, keras_model: Any) -> IoLayout:
    """How the TF model's inputs/outputs relate to the ONNX baseline's, derived from both shapes."""
    inputs = []
    for spec, tensor in zip(model.inputs, keras_model.inputs, strict=True):
        perm = _perm((spec.batch, *spec.shape), tuple(tensor.shape))
        inputs.append((spec.name, spec.name, perm))
    outputs = []
    for spec, tensor in zip(model.outputs, keras_model.outputs, strict=True):
        outputs.append(inverse(_perm((spec.batch, *spec.shape), tuple(tensor.shape))))
    return IoLayout(tuple(inputs), tuple(outputs))


def _perm(onnx_shape: tuple[Any, ...], tf_shape: tuple[Any, ...]) -> tuple[int, ...]:
    """onnx2tf moves channels last for rank >= 3; confirm it against the per-sample shapes, else identity."""
    rank = len(onnx_shape)
    candidate = channels_last(rank)
    per_sample = [d if isinstance(d, int) and d > 0 else None for d in onnx_shape]
    moved = [per_sample[axis] for axis in candidate]
    if rank >= 3 and all(a is None or b is None or a == b for a, b in zip(moved[1:], tf_shape[1:], strict=True)):
        return candidate
    return tuple(range(rank))


@functools.cache
def _onnx2tf() -> tuple[Any, int]:
    """onnx2tf, and the recursion limit its import sets (2**31 - 1), kept for its own conversions: left in
    place, a deep recursion anywhere else in the process (a deeply nested JSON file) overflows the C stack and
    segfaults instead of raising RecursionError."""
    before = sys.getrecursionlimit()
    module = require("onnx2tf")
    wanted = sys.getrecursionlimit()
    sys.setrecursionlimit(before)
    return module, wanted


@contextlib.contextmanager
def _offline(onnx2tf: Any):
    """Replace onnx2tf's sample-image download with local data and make any HTTP request fail loudly."""
    core = onnx2tf.onnx2tf
    common = __import__("onnx2tf.utils.common_functions", fromlist=["requests"])
    saved = core.download_test_image_data, common.requests.get
    core.download_test_image_data = lambda: np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32)

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise ToolchainError("onnx2tf tried to reach the network; edgec never does")

    common.requests.get = refuse
    previous = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    try:
        yield
    finally:
        core.download_test_image_data, common.requests.get = saved
        if previous is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = previous
