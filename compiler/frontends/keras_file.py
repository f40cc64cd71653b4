"""Keras 3 models: `.keras` archives and legacy `.h5` files.

Loaded with safe_mode=True: a Keras file cannot run arbitrary code from a Lambda layer at load time.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputError, require
from ..kinds import KerasModel
from ..quiet import import_tensorflow
from .source import SourceInfo
from .torch_common import check_example_shape, file_sha256

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _check_container(path: Path) -> None:
    """A .keras file is a zip archive and a .h5 file starts with the HDF5 signature. Keras reads anything else
    as "File not found", which sends the user looking for a file that is right there: say what is wrong."""
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise InputError(
            f"{path}: not a Keras file (a .keras file is a zip archive, this one is not); save the model with "
            "model.save('model.keras')"
        )
    if path.suffix in (".h5", ".hdf5"):
        with path.open("rb") as handle:
            if handle.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
                raise InputError(
                    f"{path}: not a Keras .h5 file (no HDF5 signature); save the model with model.save('model.keras')"
                )


def load_keras(path: Path) -> tuple[KerasModel, SourceInfo]:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    _check_container(path)
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
