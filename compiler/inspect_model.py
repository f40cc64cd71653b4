"""`edgec inspect`: the cost analysis of a model or an artifact on a target, without compiling it.

A source model (torch, Keras, ONNX) is analysed as its float ONNX baseline, the form every build starts from;
a .tflite or an int8 .onnx artifact is analysed as it is, so a build's own artifacts can be checked against
another target's budgets.
"""

from __future__ import annotations

from pathlib import Path

from ..targets.profile import ProfileError, load_profile
from .cost.analysis import CostReport, analyze
from .engine import run_passes
from .errors import ConfigError, InputError
from .frontends import SourceRequest, load_source
from .kinds import Model
from .passes.base import Context
from .pipeline import import_passes
from .progress import Progress


def inspect_model(request: SourceRequest, target: str) -> CostReport:
    try:
        profile = load_profile(target)
    except ProfileError as exc:
        raise ConfigError(f"--target: {exc}") from None
    if request.source and Path(request.source).suffix == ".tflite":
        model, name = _tflite(Path(request.source)), Path(request.source).name
    else:
        source, info = load_source(request)
        model, _ = run_passes(source, import_passes(source.kind), Context(profile, None, Progress(False)), None)
        name = info.name if source.kind == "onnx" else f"{info.name} (float32 ONNX export)"
    return analyze(model, profile, name)


def _tflite(path: Path) -> Model:
    from .kinds_tf import TfliteModel

    if not path.is_file():
        raise InputError(f"{path}: no such file; give a .tflite, .onnx, .pt2, .keras file or a module:factory")
    model = TfliteModel(path.read_bytes())
    try:
        _ = model.summary  # read it now, so a broken file fails here with its name
    except ValueError as exc:
        raise InputError(f"{path}: not a TFLite flatbuffer LiteRT can read ({str(exc).splitlines()[0]})") from None
    return model
