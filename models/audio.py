"""AudioGRU: a conv + GRU keyword-spotting-style model, with shipped weights, for the quantization search.

The 8x8 digits stand in for a spectrogram: image columns are 8 frequency bins and rows 8 time frames. A
Conv1d front end mixes neighbouring frames, a GRU runs over the frames, and a linear head reads its final
state, the shape of small on-device audio models.

The GRU cell is written out (two Linear layers, sigmoid/tanh gates, PyTorch's gate order and equations) and
unrolled over the fixed 8 frames, because the two library forms do not survive the TFLite route: an ONNX GRU
op becomes a WHILE loop in onnx2tf whose int8 calibration crashes TensorFlow's calibrator (a segfault,
tensorflow 2.21), and torch's GRUCell decomposition fails onnx2tf's shape inference. Unrolled, every step is
plain MatMul/Add/Sigmoid/Tanh that both ONNX Runtime and TFLite quantize.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .digits_data import NUM_CLASSES

WEIGHTS_PATH = Path(__file__).resolve().parent / "data" / "audio_gru.npz"
BINS, FRAMES, CHANNELS, HIDDEN = 8, 8, 32, 64


class GruCell(nn.Module):
    """PyTorch's GRU equations (gates r, z, n in that order) with the weights as two Linear layers."""

    def __init__(self, inputs: int, hidden: int) -> None:
        super().__init__()
        self.x2h = nn.Linear(inputs, 3 * hidden)
        self.h2h = nn.Linear(hidden, 3 * hidden)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        xr, xz, xn = self.x2h(x).chunk(3, 1)
        hr, hz, hn = self.h2h.bias.chunk(3) if h is None else self.h2h(h).chunk(3, 1)  # h = 0 at the first frame
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return n - z * n if h is None else n + z * (h - n)


class AudioGRU(nn.Module):
    """(N, 1, 8, 8) spectrogram-like inputs in [0, 1] -> (N, 10) logits."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.conv = nn.Conv1d(BINS, CHANNELS, kernel_size=3, padding=1)
        self.cell = GruCell(CHANNELS, HIDDEN)
        self.head = nn.Linear(HIDDEN, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x[:, 0].transpose(1, 2)  # (N, bins, frames)
        steps = torch.relu(self.conv(frames)).transpose(1, 2).unbind(1)
        h = self.cell(steps[0])
        for step in steps[1:]:
            h = self.cell(step, h)
        return self.head(h)


def make_pretrained_audio() -> nn.Module:
    """AudioGRU with the shipped weights (a plain npz of state_dict arrays, never pickle), in eval mode."""
    if not WEIGHTS_PATH.is_file():
        raise FileNotFoundError(f"{WEIGHTS_PATH} is missing; regenerate it with `python -m edgec.models.train_audio`")
    model = AudioGRU()
    with np.load(WEIGHTS_PATH, allow_pickle=False) as archive:
        model.load_state_dict({key: torch.from_numpy(archive[key]) for key in archive.files})
    return model.eval()
