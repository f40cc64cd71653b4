"""DigitsCNN, the built-in demo model: a small CNN for scikit-learn's 8x8 digits, with shipped weights.

Conv-BN-ReLU blocks give BatchNorm folding something to fold, and ~94k parameters (~370 KB of float32)
make the int8 size drop (4x on the weights) plain to see. Only static-shape, eval-mode ops, so
torch.onnx.export traces it cleanly (batch dimension dynamic included).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .digits_data import INPUT_NAME, INPUT_SHAPE, NUM_CLASSES, load_split

WEIGHTS_PATH = Path(__file__).resolve().parent / "data" / "digits_cnn.npz"

__all__ = [
    "INPUT_NAME",
    "INPUT_SHAPE",
    "NUM_CLASSES",
    "WEIGHTS_PATH",
    "DigitsCNN",
    "load_split",
    "make_pretrained",
]


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 same-padding conv without bias (BN supplies it), then BN and ReLU: the pattern BN folding targets."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


class DigitsCNN(nn.Module):
    """(N, 1, 8, 8) images in [0, 1] -> (N, 10) logits."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_bn_relu(1, 32),  # 8x8
            _conv_bn_relu(32, 64),  # 8x8
            nn.MaxPool2d(2),  # -> 4x4
            _conv_bn_relu(64, 128),  # 4x4, receptive field now covers the whole image
            # A fixed 4x4 window exports as AveragePool, which ORT quantizes (ReduceMean, what adaptive
            # pooling becomes, would stay float); the input size is fixed, so nothing is lost.
            nn.AvgPool2d(4),
        )
        self.classifier = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def make_pretrained() -> nn.Module:
    """DigitsCNN with the shipped weights (a plain npz of state_dict arrays, never pickle), in eval mode."""
    if not WEIGHTS_PATH.is_file():
        raise FileNotFoundError(f"{WEIGHTS_PATH} is missing; regenerate it with `python -m edgec.models.train_digits`")
    model = DigitsCNN()
    with np.load(WEIGHTS_PATH, allow_pickle=False) as archive:
        state = {key: torch.from_numpy(archive[key]) for key in archive.files}
    model.load_state_dict(state)  # strict: a stale weights file fails loudly
    return model.eval()
