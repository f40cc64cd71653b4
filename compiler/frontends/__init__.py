"""Frontends: turn what the user names into a model kind the passes understand.

`edgec compile SOURCE` dispatches here on the form of SOURCE: a `.onnx` file, a `.keras`/`.h5` Keras model,
a `.pt2` torch.export program, a `.pt` TorchScript archive, `package.module:callable` returning an
nn.Module, or nothing at all for the built-in demo.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..kinds import Model
from .source import SourceInfo, SourceRequest

TORCH_FILE_SUFFIXES = (".pt", ".pth", ".ptc", ".torchscript")
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")  # .hdf5: the legacy HDF5 file under its other common name


def kind_of(source: str | None) -> str:
    """The model kind a source will load as, known from its name alone (plans are checked before loading)."""
    if source is None:
        return "torch"
    suffix = Path(source).suffix
    return "onnx" if suffix == ".onnx" else "keras" if suffix in KERAS_SUFFIXES else "torch"


def load_source(request: SourceRequest) -> tuple[Model, SourceInfo]:
    source = request.source
    _refuse_unused_shapes(request)
    if source is None:
        from .demo import load_demo

        return load_demo()
    path = Path(source)
    if path.suffix == ".onnx":
        from .onnx_file import load_onnx

        return load_onnx(path)
    if path.suffix in KERAS_SUFFIXES:
        from .keras_file import load_keras

        return load_keras(path)
    if path.suffix == ".pt2":
        from .torch_files import load_exported_program

        return load_exported_program(path, request)
    if path.suffix in TORCH_FILE_SUFFIXES:
        from .torch_files import load_torchscript

        return load_torchscript(path, request)
    if ":" in source and not path.exists():
        from .torch_factory import load_factory

        return load_factory(source, request)
    if not path.exists():
        raise InputError(f"{source}: file not found")
    raise InputError(
        f"{source}: unsupported model format {path.suffix or '(no suffix)'!r}; give a .onnx, .keras, .h5/.hdf5, .pt2, "
        ".pt (TorchScript) file or package.module:callable"
    )


def _refuse_unused_shapes(request: SourceRequest) -> None:
    """--input-shape traces a torch model; an ONNX or Keras model (and the demo) carries its own input shapes,
    and silently ignoring the flag lets a user believe the build was made for the shape they asked for."""
    if not request.input_shapes:
        return
    kind = kind_of(request.source)
    if request.source is None or kind in ("onnx", "keras"):
        what = "the built-in demo" if request.source is None else f"{request.source} ({kind})"
        raise InputError(
            f"--input-shape: {what} takes its input shapes from the model itself, so the flag would be ignored; "
            "it is for torch sources (.pt, .pt2, package.module:callable): drop it"
        )
