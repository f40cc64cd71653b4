"""Shared device-side fixtures: a demo bundle, and a venv that has only what `edgec[device]` installs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPY_IGNORE = shutil.ignore_patterns(".venv", "build", "*.egg-info", "__pycache__", "tests", "bench", ".git", ".mypy")


def make_venv(folder: Path, *requirements: str) -> Path:
    """A fresh venv (no system site-packages) with `requirements` installed under the project's pins."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    if requirements:
        pip = [str(python), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), *requirements]
        subprocess.run(pip, check=True, timeout=900)
    return python


def install_device_extra(folder: Path, scratch: Path) -> Path:
    """`pip install edgec[device]` from a copy of the sources (so the build leaves nothing in the checkout)."""
    source = scratch / "edgec-source"
    shutil.copytree(ROOT, source, ignore=COPY_IGNORE)
    return make_venv(folder, f"{source}[device]")
