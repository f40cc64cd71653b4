"""Peak memory of a compile for a real-size recognizer: a 2.7 M-parameter CNN-BiLSTM-CTC model at 3x48x320.

    python bench/memory_crnn.py [--calib 100] [--eval 200] [--target rpi4]

A user's CRNN text recognizer of this size (10.9 MB ONNX) was OOM-killed at 19.7 GB RSS with 100 calibration
and 200 evaluation samples. This builds a model of the same shape (random weights: memory does not depend
on them), writes the data, and runs `edgec compile` in a fresh process (no cache), reading the process's own
high-water mark (VmHWM) as it exits. It also runs with a quarter of the samples, so the table shows how peak
RSS grows with the sample count. JSON in results/memory_crnn.json.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from calibration_memory import peak_rss

from common import check_load, save

SHAPE = (3, 48, 320)
CLASSES = 97


def write_model(path: Path) -> int:
    """The CRNN as a user exports it; returns its parameter count."""
    import torch
    from torch import nn

    class Crnn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            channels = [3, 64, 128, 256, 256, 512]
            pools = [(2, 2), (2, 2), (2, 1), (2, 1), (3, 1)]
            for (a, b), pool in zip(itertools.pairwise(channels), pools, strict=True):
                layers += [nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(), nn.MaxPool2d(pool)]
            self.features = nn.Sequential(*layers)  # [N, 512, 1, 80]
            self.rnn = nn.LSTM(512, 128, bidirectional=True, batch_first=True)
            self.classify = nn.Linear(256, CLASSES)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            columns = self.features(image).squeeze(2).transpose(1, 2)  # [N, 80, 512]
            return self.classify(self.rnn(columns)[0])  # [N, 80, 97]

    torch.manual_seed(0)
    model = Crnn().eval()
    torch.onnx.export(model, (torch.zeros(1, *SHAPE),), str(path), input_names=["image"], output_names=["frames"],
                      dynamic_axes={"image": {0: "n"}, "frames": {0: "n"}}, dynamo=False)  # fmt: skip
    return sum(p.numel() for p in model.parameters())


def write_data(path: Path, samples: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    np.save(path, rng.random((samples, *SHAPE), dtype=np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calib", type=int, default=100)
    parser.add_argument("--eval", type=int, default=200)
    parser.add_argument("--target", default="rpi4")
    args = parser.parse_args()
    load = check_load()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        parameters = write_model(folder / "crnn.onnx")
        size_mb = (folder / "crnn.onnx").stat().st_size / 1e6
        for fraction in (0.25, 1.0):
            calib, evaluation = max(1, int(args.calib * fraction)), max(1, int(args.eval * fraction))
            write_data(folder / "calib.npy", calib, seed=1)
            write_data(folder / "eval.npy", evaluation, seed=2)
            compile_args = [
                "compile", str(folder / "crnn.onnx"), "--target", args.target, "--no-cache", "--quiet",
                "--calib", str(folder / "calib.npy"), "--eval", str(folder / "eval.npy"),
                "--output-kind", "ctc", "--no-search", "-o", str(folder / f"build-{fraction}"),
            ]  # fmt: skip
            peak_mib, seconds = peak_rss(None, compile_args, folder)
            row = {"calib": calib, "eval": evaluation, "peak_rss_mib": round(peak_mib), "seconds": round(seconds)}
            rows.append(row)
            print(f"{calib:>5} calib {evaluation:>5} eval: peak RSS {peak_mib:,.0f} MiB, {seconds:.0f} s", flush=True)
    print(f"model: {parameters / 1e6:.2f} M parameters, {size_mb:.1f} MB ONNX, input {SHAPE}, target {args.target}")
    facts = {"parameters": parameters, "onnx_mb": size_mb, "target": args.target, "load": load}
    save("memory_crnn", {**facts, "rows": rows})


if __name__ == "__main__":
    main()
