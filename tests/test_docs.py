"""The repository is self-contained: the facts it cites live in its docs/, not in files outside it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = "../" + "shared"  # spelled apart so this file does not cite it either
DOCS = ("toolchain.md", "targets.md", "design.md")


def _tracked() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_no_tracked_file_cites_files_outside_the_repository():
    citing = []
    for path in _tracked():
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError):  # binary data (weights, datasets)
            continue
        citing += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(text.splitlines(), 1) if OUTSIDE in line]
    assert not citing, f"cites {OUTSIDE}: {citing}"


def test_cited_docs_exist():
    for name in DOCS:
        assert (ROOT / "docs" / name).is_file()
    cited = re.compile(r"\b(TOOLCHAIN|TARGETS|DESIGN)\.md")  # the old names, now docs/*.md
    stale = [
        str(p.relative_to(ROOT))
        for p in _tracked()
        if p.suffix in {".py", ".toml", ".md", ".txt"} and p.is_file() and cited.search(p.read_text(errors="replace"))
    ]
    assert not stale, stale
