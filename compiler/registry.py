"""The one explicit registry of passes: names mapped to lazily imported classes.

Listing passes here, rather than registering them by import side effect, keeps `import edgec` free of
torch and onnx and makes the full set of passes readable in one place.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import typing
from typing import Any

from .errors import ConfigError
from .passes.base import Pass
from .spec import PassSpec

PASSES: dict[str, str] = {
    "torch-to-onnx": "edgec.compiler.passes.torch_to_onnx:TorchToOnnx",
    "cleanup": "edgec.compiler.passes.cleanup:Cleanup",
    "equalize": "edgec.compiler.passes.equalize:Equalize",
    "prune": "edgec.compiler.passes.prune:Prune",
    "prune-channels": "edgec.compiler.passes.prune_channels:PruneChannels",
    "finetune": "edgec.compiler.passes.finetune:Finetune",
    "quantize": "edgec.compiler.passes.quantize:Quantize",
    "fp16": "edgec.compiler.passes.fp16:Fp16",
    "onnx-to-tf": "edgec.compiler.passes.onnx_to_tf:OnnxToTf",
    "tflite": "edgec.compiler.passes.tflite:Tflite",
    "keras-to-onnx": "edgec.compiler.passes.keras_export:KerasToOnnx",
    "keras-to-tf": "edgec.compiler.passes.keras_export:KerasToTf",
}


def pass_class(name: str) -> type[Pass]:
    if name not in PASSES:
        raise ConfigError(f"unknown pass {name!r}{suggest(name, PASSES)}; known passes: {', '.join(PASSES)}")
    module_name, _, class_name = PASSES[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_pass(spec: PassSpec) -> Pass:
    """Instantiate a pass from its spec, typing each string option by the dataclass field it sets."""
    cls = pass_class(spec.name)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, raw in spec.options.items():
        if key not in fields:
            raise ConfigError(
                f"pass {spec.name!r} has no option {key!r}{suggest(key, fields)}; "
                f"options: {', '.join(fields) or '(none)'}"
            )
        kwargs[key] = _coerce(raw, hints[key], f"{spec.name}.{key}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"pass {spec.name!r}: {exc}") from exc


def suggest(word: str, choices: typing.Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix, or an empty string when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _coerce(raw: Any, hint: Any, where: str) -> Any:
    if not isinstance(raw, str):
        return raw
    if hint is bool:
        lowered = raw.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ConfigError(f"{where}: expected true or false, got {raw!r}")
    for kind in (int, float):
        if hint is kind:
            try:
                return kind(raw)
            except ValueError:
                raise ConfigError(f"{where}: expected {kind.__name__}, got {raw!r}") from None
    if typing.get_origin(hint) is tuple:
        return tuple(part for part in raw.split(";") if part)
    return raw
