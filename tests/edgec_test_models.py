"""Tiny torch models for tests: importable as `edgec_test_models:<factory>` (tests/ is on sys.path)."""

from __future__ import annotations

import numpy as np
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


# A real-kind model for output kinds: a burst detector on a raw 1-D signal with one [N, 1] probability out, the
# shape of a voice-activity or keyword-presence detector. An argmax over its output is always 0.
BURST_LENGTH = 256


def burst_signals(count: int, seed: int, spike: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """`count` raw signals [N, 1, 256] (noise, half with a sine burst) and their 0/1 labels. `spike` adds one
    sample of that amplitude to every eighth signal: calibration data with a glitch that ruins int8 input ranges."""
    rng = np.random.default_rng(seed)
    signals = rng.normal(0.0, 0.1, (count, 1, BURST_LENGTH)).astype(np.float32)
    labels = (np.arange(count) % 2).astype(np.int64)
    for i in np.flatnonzero(labels):
        start, width = rng.integers(0, BURST_LENGTH - 64), rng.integers(48, 64)
        cycles, amplitude = rng.uniform(0.05, 0.2), rng.uniform(0.3, 1.0)
        signals[i, 0, start : start + width] += amplitude * np.sin(2 * np.pi * cycles * np.arange(width))
    if spike:
        signals[::8, 0, BURST_LENGTH // 2] = spike
    return signals, labels


class BurstDetector(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.front = nn.Sequential(
            nn.Conv1d(1, 8, 9, stride=2, padding=4), nn.ReLU(), nn.Conv1d(8, 8, 9, stride=2, padding=4), nn.ReLU()
        )
        self.head = nn.Linear(8, 1)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.front(signal).mean(dim=2)))


def make_burst_detector() -> nn.Module:
    """Trained here in about a second (seeded): the float model separates bursts from noise almost perfectly."""
    torch.manual_seed(0)
    model = BurstDetector()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    signals, labels = burst_signals(1024, seed=100)
    inputs, targets = torch.from_numpy(signals), torch.from_numpy(labels).float()[:, None]
    for step in range(150):
        batch = slice((step * 128) % 1024, (step * 128) % 1024 + 128)
        loss = nn.functional.binary_cross_entropy(model(inputs[batch]), targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


class SpectralClassifier(nn.Module):
    """A raw-signal model whose front end is an STFT (ONNX STFT, opset 17): ONNX Runtime runs it, onnx2tf cannot
    lower it (TypeError in its concat), so only the ONNX artifact can be built."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(5, 8, 3, padding=1)
        self.head = nn.Linear(8, 3)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        frames = torch.stft(signal.flatten(1), 8, return_complex=False)  # [N, 5, T, 2]
        magnitude = (frames**2).sum(dim=3)
        return self.head(torch.relu(self.conv(magnitude)).mean(dim=2))


def make_spectral_classifier() -> nn.Module:
    torch.manual_seed(0)
    return SpectralClassifier().eval()


# A streaming model: one audio chunk and a recurrent state in, a speech-like probability and the next state out,
# the shape of a voice-activity detector run chunk after chunk on a device.
CHUNK = 64
STATE = 8


def burst_stream(steps: int, seed: int, spike: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """`steps` consecutive chunks [steps, 64] of one signal: noise, with bursts of 6-14 chunks, and per chunk
    whether a burst is on (0/1). `spike` puts a glitch of that amplitude into every 16th chunk."""
    rng = np.random.default_rng(seed)
    chunks = rng.normal(0.0, 0.1, (steps, CHUNK)).astype(np.float32)
    active = np.zeros(steps, dtype=np.int64)
    step = int(rng.integers(4, 12))
    while step < steps:
        length = int(rng.integers(6, 15))
        cycles, amplitude = rng.uniform(0.05, 0.2), rng.uniform(0.4, 1.0)
        time = np.arange(length * CHUNK)
        burst = amplitude * np.sin(2 * np.pi * cycles * time).reshape(length, CHUNK)[: steps - step]
        chunks[step : step + length] += burst
        active[step : step + length] = 1
        step += length + int(rng.integers(6, 20))
    if spike:
        chunks[::16, CHUNK // 2] = spike
    return chunks, active


class StreamingDetector(nn.Module):
    """Band energies of the chunk feed a leaky recurrent state (decay 0.5); the probability reads the state."""

    def __init__(self) -> None:
        super().__init__()
        self.bands = nn.Conv1d(1, STATE, 9, stride=4, padding=4)
        self.decay = nn.Linear(STATE, STATE, bias=False)
        self.drive = nn.Linear(STATE, STATE)
        self.head = nn.Linear(STATE, 1)

    def forward(self, chunk: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        energy = torch.relu(self.bands(chunk[:, None, :])).mean(dim=2)
        next_state = self.decay(state) + self.drive(energy)
        return torch.sigmoid(self.head(next_state)), next_state


def make_streaming_detector() -> nn.Module:
    """Weights set in closed form (seeded): a leaky integrator of band energy, thresholded halfway between the
    mean state on noise and on bursts of the training stream."""
    torch.manual_seed(0)
    model = StreamingDetector().eval()
    with torch.no_grad():
        model.decay.weight.copy_(0.5 * torch.eye(STATE))
        model.drive.weight.copy_(0.5 * torch.eye(STATE))
        model.drive.bias.zero_()
        chunks, active = burst_stream(400, seed=100)
        state, states = torch.zeros(1, STATE), []
        for chunk in torch.from_numpy(chunks):
            _, state = model(chunk[None], state)
            states.append(state[0])
        stacked = torch.stack(states)
        on, off = stacked[torch.from_numpy(active) == 1].mean(0), stacked[torch.from_numpy(active) == 0].mean(0)
        direction = (on - off) / (on - off).norm()
        model.head.weight.copy_(8 * direction[None] / (on - off).norm() * 2)
        model.head.bias.fill_(float(-(8 * direction @ (on + off) / 2 / (on - off).norm() * 2)))
    return model


# A CTC text-line recognizer on "text lines" of four 8x8 digit glyphs side by side, and an embedding model:
# both built from the trained demo CNN, so they are accurate without training here.
LINE_DIGITS = 4


def digit_lines(count: int, seed: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """`count` lines [N, 1, 8, 32] of four digits from the built-in digits split, and their CTC labels [N, 4]
    (digit + 1: 0 is the blank)."""
    from edgec.models.digits_data import load_split

    images, digits = load_split(split)
    picks = np.random.default_rng(seed).integers(0, len(images), (count, LINE_DIGITS))
    lines = np.concatenate([images[picks[:, k]] for k in range(LINE_DIGITS)], axis=3).astype(np.float32)
    return lines, (digits[picks] + 1).astype(np.int64)


class DigitLineReader(nn.Module):
    """A fully convolutional CTC line reader built from the trained demo CNN: its features run over the whole
    line (the 4x4 average pool then gives one column per glyph), its classifier reads each column, and each
    glyph gives two frames (the symbol, then a blank): [N, 8, 11] scores, class 0 the blank."""

    def __init__(self) -> None:
        super().__init__()
        from edgec.models.digits import make_pretrained

        self.glyph = make_pretrained()
        self.frames = nn.Linear(10, 22)  # per glyph: the symbol frame (blank at -10) and a blank frame
        with torch.no_grad():
            self.frames.weight.zero_()
            self.frames.weight[1:11].copy_(torch.eye(10))
            self.frames.bias.fill_(-10.0)
            self.frames.bias[0], self.frames.bias[1:11], self.frames.bias[11] = -10.0, 0.0, 10.0

    def forward(self, line: torch.Tensor) -> torch.Tensor:
        columns = self.glyph.features(line).flatten(2).transpose(1, 2)  # [N, 128, 1, 4] -> [N, 4, 128]
        scores = self.glyph.classifier(columns)  # [N, 4, 10]
        return self.frames(scores).reshape(-1, 2 * LINE_DIGITS, 11)


def make_digit_line_reader() -> nn.Module:
    return DigitLineReader().eval()


class DigitEmbedder(nn.Module):
    """The demo CNN's 128 pooled features: an [N, 128] embedding, which its shape cannot tell from 128 classes."""

    def __init__(self) -> None:
        super().__init__()
        from edgec.models.digits import make_pretrained

        self.features = make_pretrained().features

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.features(image).flatten(1)


def make_digit_embedder() -> nn.Module:
    return DigitEmbedder().eval()


def speech_f1(float_outputs: np.ndarray, outputs: np.ndarray, labels: np.ndarray | None) -> float:
    """A user metric (`--metric edgec_test_models:speech_f1`): F1 of the artifact's speech decisions at 0.5
    against the labels, or against the float model's decisions without labels."""
    truth = (float_outputs.reshape(-1) > 0.5) if labels is None else labels.reshape(-1).astype(bool)
    said = outputs.reshape(-1) > 0.5
    hits = float(np.sum(said & truth))
    return 2 * hits / max(float(np.sum(said) + np.sum(truth)), 1.0)
