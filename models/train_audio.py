"""Reproduce data/audio_gru.npz: `python -m edgec.models.train_audio` (seconds on 2 CPU cores, no network).

Trains AudioGRU on the digits train split with the demo's recipe (train_digits.train); eval stays held out.
"""

from __future__ import annotations

import time

from .audio import WEIGHTS_PATH, AudioGRU, make_pretrained_audio
from .train_digits import deterministic, train_and_save


def main() -> None:
    deterministic()
    started = time.perf_counter()
    train_and_save(AudioGRU(), WEIGHTS_PATH, make_pretrained_audio)
    print(f"wrote {WEIGHTS_PATH} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
