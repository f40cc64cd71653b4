"""Keras 3 models: `.keras` archives and legacy `.h5` files.

Loaded with safe_mode=True: a Keras file cannot run arbitrary code from a Lambda layer at load time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError, require
from ..kinds import KerasModel
from ..quiet import import_tensorflow
from .source import SourceInfo
from .torch_common import check_example_shape, file_sha256


def load_keras(path: Path) -> tuple[KerasModel, SourceInfo]:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    import_tensorflow()
    keras = require("keras")
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:
        raise InputError(
            f"{path}: cannot load as a Keras model ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        ) from None
    for tensor in model.inputs:
        check_example_shape((1, *tensor.shape[1:]), f"{path}: input {tensor.name!r} of shape {tensor.shape}")
    try:  # exporters need a model that has been called once; this also proves it runs
        zeros = [np.zeros((1, *t.shape[1:]), t.dtype) for t in model.inputs]
        model(zeros[0] if len(zeros) == 1 else zeros)
    except Exception as exc:
        raise InputError(f"{path}: the Keras model does not run on zeros of its input shape ({exc})") from None
    digest = file_sha256(path)
    info = SourceInfo(path.stem, "keras", str(path), digest, {"keras": keras.__version__})
    return KerasModel(model, digest), info
