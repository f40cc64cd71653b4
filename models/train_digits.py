"""Reproduce data/digits.npz and data/digits_cnn.npz: `python -m edgec.models.train_digits`.

Uses scikit-learn's bundled digits (no network). Seeded, single-threaded and with deterministic algorithms,
so a rerun with the same torch build gives the same weights; it takes well under a minute on 2 CPU cores.
The eval split is held out from training entirely; nothing is tuned on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .digits import WEIGHTS_PATH, DigitsCNN, make_pretrained
from .digits_data import DATA_PATH, PIXEL_MAX, SPLITS, load_split

SEED = 0
EVAL_SIZE = 360
CALIB_SIZE = 256
EPOCHS = 60
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-4


def make_splits(labels: np.ndarray, seed: int = SEED) -> dict[str, np.ndarray]:
    """Stratified, seeded index split: eval held out, calib drawn from the training portion."""
    from sklearn.model_selection import train_test_split

    everything = np.arange(len(labels))
    train, held_out = train_test_split(everything, test_size=EVAL_SIZE, stratify=labels, random_state=seed)
    _, calib = train_test_split(train, test_size=CALIB_SIZE, stratify=labels[train], random_state=seed)
    return {"train": np.sort(train), "calib": np.sort(calib), "eval": np.sort(held_out)}


def write_data() -> None:
    """Save all load_digits images as uint8 plus the split indices (compressed: ~30 KB)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.uint8)
    assert images.max() <= PIXEL_MAX, "load_digits pixels are expected in 0..16"
    labels = digits.target.astype(np.uint8)
    splits = make_splits(labels)
    DATA_PATH.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{name}_idx": splits[name].astype(np.int64) for name in SPLITS}
    np.savez_compressed(DATA_PATH, images=images, labels=labels, **arrays)


def shift_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by -1..1 pixels in each direction (zero fill): cheap, label-preserving variety."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (1, 1, 1, 1))
    dy, dx = torch.randint(0, 3, (2, n), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, :]
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


@torch.no_grad()
def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy in eval mode (BN uses its running statistics, as deployed)."""
    model.eval()
    return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def train(x: np.ndarray, y: np.ndarray, model: nn.Module) -> nn.Module:
    """Adam + cosine schedule with shift augmentation; BN trains in train mode so its running stats are real."""
    generator = torch.Generator().manual_seed(SEED)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps = EPOCHS * -(-len(x) // BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LEARNING_RATE, total_steps=steps)
    images, labels = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            loss = loss_fn(model(shift_augment(images[batch], generator)), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        if epoch % 10 == 9 or epoch == EPOCHS - 1:
            print(f"epoch {epoch + 1:3d}/{EPOCHS}  loss {total / len(x):.4f}")
    return model.eval()


def save_weights(model: nn.Module, path: Path) -> None:
    """state_dict as a plain npz of arrays: loadable with allow_pickle=False, no code in the file."""
    state = {key: value.detach().cpu().numpy() for key, value in model.state_dict().items()}
    np.savez_compressed(path, **state)


def train_and_save(model: nn.Module, path: Path, reload: Callable[[], nn.Module]) -> None:
    """Train on the train split, save, and check the saved weights reload to the same eval accuracy."""
    x_train, y_train = load_split("train")
    x_eval, y_eval = load_split("eval")
    model = train(x_train, y_train, model)
    save_weights(model, path)
    train_acc, eval_acc = accuracy(model, x_train, y_train), accuracy(model, x_eval, y_eval)
    params = sum(p.numel() for p in model.parameters())
    name = type(model).__name__
    print(f"{name}: {params} parameters; train accuracy {train_acc:.4f}, eval accuracy {eval_acc:.4f}")
    reloaded = accuracy(reload(), x_eval, y_eval)
    assert reloaded == eval_acc, f"reloaded weights give {reloaded}, expected {eval_acc}"


def deterministic() -> None:
    """Seeded, single-threaded, deterministic kernels: a rerun on the same torch build gives the same weights."""
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def main() -> None:
    """Write the data file, train, save the weights, and check the shipped weights reload identically."""
    deterministic()
    started = time.perf_counter()
    write_data()
    sizes = {split: len(load_split(split)[0]) for split in SPLITS}
    print(f"digits: train {sizes['train']}, calib {sizes['calib']}, eval {sizes['eval']} samples")
    train_and_save(DigitsCNN(), WEIGHTS_PATH, make_pretrained)
    print(f"wrote {DATA_PATH} and {WEIGHTS_PATH} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
