"""A model kind's class from its name, as stored beside cached or shipped model bytes.

Above both kinds.py and kinds_tf.py: the TensorFlow kinds subclass kinds.Model, so this lookup, when it lived
in kinds.py, reached kinds_tf through a function-level import and closed an import cycle.
"""

from __future__ import annotations

from .kinds import KerasModel, Model, OnnxModel, TorchModel
from .kinds_tf import TfliteModel, TfModel

_CLASSES: dict[str, type[Model]] = {
    "torch": TorchModel,
    "onnx": OnnxModel,
    "keras": KerasModel,
    "tf": TfModel,
    "tflite": TfliteModel,
}


def kind_class(name: str) -> type[Model]:
    """The class of a kind by name (one of kinds.KIND_NAMES); KeyError for any other name."""
    return _CLASSES[name]
