"""The built-in demo: a small CNN trained on scikit-learn's 8x8 digits, with its data splits.

It goes through the same factory frontend a user's model would, so the demo exercises the real path.
"""

from __future__ import annotations

from ..data import Dataset
from ..kinds import TorchModel
from .source import SourceInfo, SourceRequest

DEMO_FACTORY = "edgec.models.digits:make_pretrained"


def load_demo() -> tuple[TorchModel, SourceInfo]:
    from ...models.digits import INPUT_NAME, INPUT_SHAPE
    from .torch_factory import load_factory

    model, info = load_factory(DEMO_FACTORY, SourceRequest(DEMO_FACTORY, (INPUT_SHAPE,), (INPUT_NAME,)))
    return model, SourceInfo("digits-cnn", "demo", DEMO_FACTORY, info.sha256)


def demo_split(name: str) -> Dataset:
    """The demo's calibration ('calib') or evaluation ('eval') split; numpy only, no torch."""
    from ...models.digits import INPUT_NAME
    from ...models.digits_data import load_split

    images, labels = load_split(name)
    return Dataset({INPUT_NAME: images}, labels, f"built-in digits {name} split")
