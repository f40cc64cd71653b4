"""Tiny torch models for tests: importable as `edgec_test_models:<factory>` (tests/ is on sys.path)."""

from __future__ import annotations

import torch
from torch import nn

TINY_SHAPE = (1, 1, 8, 8)


class Tiny(nn.Module):
    """Conv-BN-ReLU-Linear on 8x8 inputs: every op the demo has, at a size that exports in a second."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


def make_tiny() -> nn.Module:
    torch.manual_seed(0)
    model = Tiny()
    with torch.no_grad():  # non-trivial BN statistics so folding them changes the conv weights
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
        model.bn.weight.uniform_(0.5, 1.5)
        model.bn.bias.uniform_(-0.2, 0.2)
    return model.eval()


def make_not_a_module() -> int:
    return 3
