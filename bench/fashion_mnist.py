"""A Fashion-MNIST CNN for the pruning benchmarks, trained once on Debian's `dataset-fashion-mnist`.

    apt-get install dataset-fashion-mnist   # the idx files under /usr/share/datasets/fashion-mnist
    python bench/fashion_mnist.py           # trains (~3 min on 2 cores) and caches results/fashion_cnn.npz

The digits demo is too easy to tell pruning criteria apart (8x8 images, 99% accuracy); Fashion-MNIST's
28x28 garments at ~92% leave room for a criterion to lose accuracy. `make_pretrained` is an edgec model
factory (`fashion_mnist:make_pretrained` with bench/ on the path); it trains on first use. Calibration
comes from the last 5,000 training images (held out of training), evaluation is the 10,000-image test set.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common import RESULTS

DATA = Path("/usr/share/datasets/fashion-mnist")
WEIGHTS = RESULTS / "fashion_cnn.npz"
HELD_OUT = 5000
EPOCHS = 6
BATCH_SIZE = 128
LEARNING_RATE = 3e-3


def _read_idx(name: str) -> np.ndarray:
    """An idx file (big-endian dims after a 4-byte magic whose last byte is the rank) as a uint8 array."""
    path = DATA / name
    if not path.exists():
        sys.exit(f"{path} not found: install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)")
    raw = gzip.decompress(path.read_bytes())
    rank = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=rank, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, 28, 28) float32 images in [0, 1] and int64 labels; split is train, calib or eval."""
    prefix = "t10k" if split == "eval" else "train"
    images = _read_idx(f"{prefix}-images-idx3-ubyte.gz")[:, None].astype(np.float32) / 255.0
    labels = _read_idx(f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    if split == "train":
        return images[:-HELD_OUT], labels[:-HELD_OUT]
    if split == "calib":
        return images[-HELD_OUT:], labels[-HELD_OUT:]
    return images, labels


def _block(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU())


class FashionCNN(nn.Module):
    """(N, 1, 28, 28) -> (N, 10): four conv blocks, two poolings, a 256-unit hidden layer; ~0.9 M weights."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _block(1, 32), _block(32, 32), nn.MaxPool2d(2), _block(32, 64), _block(64, 64), nn.MaxPool2d(2)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def train() -> FashionCNN:
    """Adam + one-cycle, seeded; prints test accuracy. Nothing is tuned on the test set."""
    torch.manual_seed(0)
    x, y = (torch.from_numpy(a) for a in load("train"))
    model = FashionCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=1e-4)
    steps = EPOCHS * -(-len(x) // BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LEARNING_RATE, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x))
        for start in range(0, len(x), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            loss = loss_fn(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}/{EPOCHS}: test accuracy {accuracy(model):.4f}", flush=True)
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module) -> float:
    model.eval()
    x, y = load("eval")
    return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def make_pretrained() -> FashionCNN:
    """The trained CNN, training it (and caching the weights as a plain npz) on first use."""
    model = FashionCNN()
    if not WEIGHTS.exists():
        RESULTS.mkdir(exist_ok=True)
        trained = train()
        np.savez(WEIGHTS, **{k: v.numpy() for k, v in trained.state_dict().items()})
    with np.load(WEIGHTS, allow_pickle=False) as saved:
        model.load_state_dict({k: torch.from_numpy(saved[k]) for k in saved.files})
    return model.eval()


if __name__ == "__main__":
    print(f"test accuracy {accuracy(make_pretrained()):.4f}")
