"""MobileNetV2 (Sandler et al. 2018) in plain torch: the realistic-size benchmark model, no torchvision.

Randomly initialised but deterministic (seeded inside the factory), with BN parameters and running stats
mildly randomised so BN folding and int8 calibration have real, reproducible work to do. ~3.5M parameters
at width 1.0; default input (1, 3, 224, 224).
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SHAPE = (1, 3, 224, 224)
LAST_CHANNELS = 1280
# (expansion t, output channels c, repeats n, first stride s), the table from the paper.
SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)

__all__ = ["INPUT_SHAPE", "InvertedResidual", "MobileNetV2", "make_model"]


def _make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of 8 (as the reference does) without dropping more than 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _conv_bn(
    in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, relu6: bool = True
) -> nn.Sequential:
    """Conv (no bias: BN supplies it) + BN, then ReLU6 unless this is a linear bottleneck."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if relu6:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expand -> 3x3 depthwise -> 1x1 linear projection, plus the input when the shapes allow."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = round(in_ch * expand_ratio)
        self.use_residual = stride == 1 and in_ch == out_ch  # fixed at build time: no data-dependent flow
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn(in_ch, hidden, 1))
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden), _conv_bn(hidden, out_ch, 1, relu6=False)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    """(N, 3, H, W) images -> (N, num_classes) logits; global average pool, then a dropout-free Linear."""

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0) -> None:
        super().__init__()
        in_ch = _make_divisible(32 * width_mult)
        last_ch = _make_divisible(LAST_CHANNELS * max(1.0, width_mult))
        layers: list[nn.Module] = [_conv_bn(3, in_ch, 3, stride=2)]
        for t, c, n, s in SETTINGS:
            out_ch = _make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(in_ch, out_ch, s if i == 0 else 1, t))
                in_ch = out_ch
        layers.append(_conv_bn(in_ch, last_ch, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(last_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        # Global average pool as a window over the whole (export-time static) map: exports as AveragePool,
        # which ORT quantizes, where adaptive pooling would become a float-only ReduceMean.
        pooled = nn.functional.avg_pool2d(features, features.shape[-2:])
        return self.classifier(torch.flatten(pooled, 1))


def _init_weights(model: nn.Module) -> None:
    """Variance-preserving init and mildly random BN state, so activations stay in a sane range in eval mode.

    fan_in init keeps activation scale roughly constant through the depth (with eval-mode BN there is no
    normalisation to rescue a drifting scale); BN gains, shifts and running stats vary per channel so folded
    weights and calibrated int8 ranges differ channel by channel, as in a trained network.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                module.weight.uniform_(0.8, 1.2)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.7, 1.3)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
            nn.init.zeros_(module.bias)


def make_model(num_classes: int = 1000, width_mult: float = 1.0) -> nn.Module:
    """A deterministic MobileNetV2 in eval mode: seeded inside (caller's RNG state left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = MobileNetV2(num_classes, width_mult)
        _init_weights(model)
    return model.eval()
