"""Reproduce data/audio_gru.npz: `python -m edgec.models.train_audio` (seconds on 2 CPU cores, no network).

Trains AudioGRU on the digits train split with the demo's recipe (train_digits.train); eval stays held out.
"""

from __future__ import annotations

import time

from .audio import WEIGHTS_PATH, AudioGRU, make_pretrained_audio
from .digits_data import load_split
from .train_digits import accuracy, deterministic, save_weights, train


def main() -> None:
    deterministic()
    started = time.perf_counter()
    x_train, y_train = load_split("train")
    x_eval, y_eval = load_split("eval")
    model = train(x_train, y_train, AudioGRU())
    save_weights(model, WEIGHTS_PATH)
    eval_acc = accuracy(model, x_eval, y_eval)
    print(f"AudioGRU: train accuracy {accuracy(model, x_train, y_train):.4f}, eval accuracy {eval_acc:.4f}")
    reloaded = accuracy(make_pretrained_audio(), x_eval, y_eval)
    assert reloaded == eval_acc, f"reloaded weights give {reloaded}, expected {eval_acc}"
    print(f"wrote {WEIGHTS_PATH} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
