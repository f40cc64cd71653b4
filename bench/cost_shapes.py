"""Calibration networks for the host cost model: each stresses one term of the roofline, so the fit can tell
the terms apart (per-layer overhead, int8 and float MAC rates, depthwise efficiency, bandwidth).

Factories for edgec's `module:function` source form; shapes are given on the command line of the compile.
"""

from __future__ import annotations

import torch
from torch import nn


def _seeded(module: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    for parameter in module.parameters():
        nn.init.normal_(parameter, 0.0, 0.1)
    return module.eval()


def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups), nn.ReLU()]


def single_conv() -> nn.Module:
    """One 3x3 convolution of 4 channels on 8x8: the fixed cost of an inference."""
    return _seeded(nn.Sequential(*_conv(1, 4)))


def small_linear() -> nn.Module:
    """One 64 -> 10 linear layer: the fixed cost again, through a different kernel."""
    return _seeded(nn.Sequential(nn.Linear(64, 10)))


def many_tiny_convs() -> nn.Module:
    """20 layers of 8 channels on 8x8: overhead-bound."""
    return _seeded(nn.Sequential(*_conv(3, 8), *[m for _ in range(19) for m in _conv(8, 8)]))


def wide_convs() -> nn.Module:
    """3x3 convolutions with 64 channels on 56x56: compute-bound."""
    return _seeded(nn.Sequential(*_conv(3, 64, stride=2), *_conv(64, 64), *_conv(64, 64)))


def pointwise_convs() -> nn.Module:
    """1x1 convolutions 128 -> 256 -> 128 on 28x28: GEMM-shaped compute."""
    return _seeded(nn.Sequential(*_conv(3, 128, 1), *_conv(128, 256, 1), *_conv(256, 128, 1)))


def depthwise_separable() -> nn.Module:
    """Depthwise 3x3 + pointwise pairs with 96 channels on 56x56: the depthwise rate and bandwidth."""
    blocks = [m for _ in range(3) for m in (*_conv(96, 96, groups=96), *_conv(96, 96, 1))]
    return _seeded(nn.Sequential(*_conv(3, 96, 1), *blocks))


def large_activations() -> nn.Module:
    """Few MACs per byte on 112x112x32: bandwidth-bound."""
    return _seeded(nn.Sequential(*_conv(3, 32, 1), *_conv(32, 32, groups=32), nn.MaxPool2d(1), *_conv(32, 32, 1)))


def mlp() -> nn.Module:
    """Fully connected 1024 -> 1024 -> 1024 -> 10: weight-streaming matrix-vector products."""
    layers = [nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)]
    return _seeded(nn.Sequential(*layers))


SHAPES = {
    "single_conv": (1, 1, 8, 8),
    "small_linear": (1, 64),
    "many_tiny_convs": (1, 3, 8, 8),
    "wide_convs": (1, 3, 112, 112),
    "pointwise_convs": (1, 3, 28, 28),
    "depthwise_separable": (1, 3, 56, 56),
    "large_activations": (1, 3, 112, 112),
    "mlp": (1, 1024),
}
