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


class Wide(nn.Module):
    """About 740k weights: ~0.9 MB as int8 with per-channel scales, over nano33ble's flash budget, within stm32h7's."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(64, 10000)
        self.out = nn.Linear(10000, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x.flatten(1))))


def make_wide() -> nn.Module:
    torch.manual_seed(0)
    return Wide().eval()


class WideActivations(nn.Module):
    """Few weights, large activations: 2048 channels on 8x8 twice over (128 KiB each in int8), more than a
    Nano 33 BLE's 160 KiB arena, while its weights (about 40 KiB) fit any flash."""

    def __init__(self) -> None:
        super().__init__()
        self.expand = nn.Conv2d(1, 2048, 3, padding=1)
        self.depthwise = nn.Conv2d(2048, 2048, 3, padding=1, groups=2048)
        self.fc = nn.Linear(2048, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.relu(self.depthwise(torch.relu(self.expand(x))))
        return self.fc(features.mean(dim=(2, 3)))


def make_wide_activations() -> nn.Module:
    torch.manual_seed(0)
    return WideActivations().eval()


def make_small_mobilenet() -> nn.Module:
    """MobileNetV2 at width 0.25 with 10 classes: inverted residuals (skip connections) in a few seconds."""
    from edgec.models.mobilenet_v2 import make_model

    return make_model(num_classes=10, width_mult=0.25)


class FiveD(Tiny):
    """Tiny with a rank-5 intermediate tensor: more dimensions than the Edge TPU accepts."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.relu(self.bn(self.conv(x)))  # (N, 8, 8, 8)
        folded = features.reshape(features.shape[0], 2, 4, 8, 8).sum(dim=1)  # via (N, 2, 4, 8, 8)
        return self.fc(torch.cat([folded, folded], dim=1).flatten(1))


def make_five_d() -> nn.Module:
    torch.manual_seed(0)
    return FiveD().eval()


class WithAbs(Tiny):
    """Tiny with an ABS op: in TFLite Micro's op set, not in the Edge TPU's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.abs(super().forward(x))


def make_with_abs() -> nn.Module:
    torch.manual_seed(0)
    return WithAbs().eval()


class RgbConv(nn.Module):
    """3-channel image input: the shape for which onnx2tf would download its sample images."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=(2, 3))


def make_rgb() -> nn.Module:
    torch.manual_seed(0)
    return RgbConv().eval()


class DeadChannels(nn.Module):
    """Half of conv1's filters are zero with bias 0.5: constant channels that structured pruning can remove
    exactly, when their mean is folded into the 1x1 conv that reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 8, 1)
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv2(torch.relu(self.conv1(x)))).flatten(1))


def make_dead_channels() -> nn.Module:
    torch.manual_seed(0)
    model = DeadChannels()
    with torch.no_grad():
        model.conv1.weight[:8] = 0.0
        model.conv1.bias[:8] = 0.5
    return model.eval()


class DeadPooledChannels(nn.Module):
    """DeadChannels' constant half feeding a classifier through a global pool and a Flatten, as MobileNet's last
    conv does: channel c becomes Linear input feature c, so the Linear loses the pruned features."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(nn.functional.avg_pool2d(torch.relu(self.conv1(x)), 8).flatten(1))


def make_dead_pooled_channels() -> nn.Module:
    torch.manual_seed(0)
    model = DeadPooledChannels()
    with torch.no_grad():
        model.conv1.weight[8:] = 0.0
        model.conv1.bias[8:] = 0.5
    return model.eval()


class Inverted(nn.Module):
    """MobileNetV2's inverted residual at toy size: expand 1x1, ReLU6, depthwise 3x3, ReLU6, project 1x1, + x."""

    def __init__(self, head: bool) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.expand = nn.Conv2d(8, 32, 1)
        self.depthwise = nn.Conv2d(32, 32, 3, padding=1, groups=32)
        self.project = nn.Conv2d(32, 8, 1)
        self.head = nn.Conv2d(8, 8, 1) if head else nn.Identity()  # a conv reading the residual stream
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        hidden = nn.functional.relu6(self.depthwise(nn.functional.relu6(self.expand(x))))
        return self.fc(self.head(x + self.project(hidden)).flatten(1))


def make_inverted() -> nn.Module:
    torch.manual_seed(0)
    return Inverted(head=False).eval()


def make_inverted_with_head() -> nn.Module:
    torch.manual_seed(0)
    return Inverted(head=True).eval()
