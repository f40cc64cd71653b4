"""Cache keys cover the code that runs (issue 26): a pass's key changes when any edgec module it imports is
edited, not only the pass's own file; scratch entries are keyed the same way and verified when read."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import make_context
from edgec.compiler.cache_store import read_scratch, scratch_path, write_scratch
from edgec.compiler.code_hash import PACKAGE_ROOT, closure_hash, module_closure
from edgec.compiler.data import Dataset

QUANTIZE = "edgec.compiler.passes.quantize"
KEY_SCRIPT = textwrap.dedent(
    """
    import sys, types
    sys.path.insert(0, sys.argv[1])
    import edgec
    assert edgec.__file__.startswith(sys.argv[1]), edgec.__file__  # the copy, not the checkout
    from edgec.compiler.cache import cache_key
    from edgec.compiler.passes.quantize import Quantize
    print(cache_key(Quantize(), types.SimpleNamespace(fingerprint="model"), "calibration"))
    """
)


@pytest.fixture
def package_copy(tmp_path) -> Path:
    """The edgec package (the repository root) copied to tmp_path/site/edgec."""
    target = tmp_path / "site" / "edgec"
    ignore = shutil.ignore_patterns(
        ".venv", ".git", ".mypy", "tests", "bench", "docs", "build", "__pycache__", "*.egg-info"
    )
    shutil.copytree(PACKAGE_ROOT, target, ignore=ignore)
    return target


def _key(site: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", KEY_SCRIPT, str(site)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _append_comment(path: Path) -> None:
    path.write_text(path.read_text() + "# an edit\n")


def test_editing_a_helper_a_pass_imports_changes_its_key(package_copy):
    site = package_copy.parent
    before = _key(site)
    _append_comment(package_copy / "compiler" / "bias_correction.py")  # imported by the quantize pass
    after_helper = _key(site)
    assert after_helper != before  # so the old entry is not reused
    _append_comment(package_copy / "compiler" / "report_html.py")  # nothing the pass runs
    assert _key(site) == after_helper


def test_closure_follows_relative_absolute_and_function_level_imports(package_copy):
    closure = module_closure(package_copy, QUANTIZE)
    assert {"edgec.compiler.bias_correction", "edgec.compiler.mse_ranges", "edgec.compiler.passes.base"} <= set(closure)
    assert "edgec.compiler.report_html" not in closure
    helper = package_copy / "compiler" / "report_html.py"
    before = closure_hash(package_copy, QUANTIZE)
    # a function-level absolute import of an edgec module brings it (and what it imports) into the closure
    quantize = package_copy / "compiler" / "passes" / "quantize.py"
    quantize.write_text(quantize.read_text() + "\n\ndef _late():\n    import edgec.compiler.report_html  # noqa\n")
    assert "edgec.compiler.report_html" in module_closure(package_copy, QUANTIZE)
    changed = closure_hash(package_copy, QUANTIZE)
    assert changed != before
    _append_comment(helper)
    assert closure_hash(package_copy, QUANTIZE) != changed
    assert closure_hash(package_copy, "edgec.no_such_module") == "unknown"


def test_scratch_entries_are_verified_and_keyed_by_code(tmp_path):
    path = scratch_path(tmp_path, "ranges", "material", QUANTIZE)
    assert path is not None and path != scratch_path(tmp_path, "ranges", "material", "edgec.compiler.bias_correction")
    assert scratch_path(None, "ranges", "material", QUANTIZE) is None
    write_scratch(path, b'{"a": 1}')
    assert read_scratch(path) == b'{"a": 1}'
    blob = path.read_bytes()
    path.write_bytes(blob.replace(b'"a": 1', b'"a": 2'))  # hand-edited
    assert read_scratch(path) is None and not path.exists()  # detected, and removed


def test_hand_edited_scratch_entry_is_not_reused_by_quantize(tmp_path, tiny_onnx, tiny_data):
    model, _ = tiny_onnx
    from edgec.compiler.passes.quantize import Quantize

    ctx = dataclasses.replace(make_context(Dataset({"image": tiny_data}, None, "tiny")), scratch=tmp_path)
    first = Quantize().run(model, ctx).model
    entries = sorted(tmp_path.glob("*.entry"))
    assert {p.name.split("-")[0] for p in entries} >= {"ranges", "conv"}  # ranges and conv means were kept
    assert all(read_scratch(p) is not None for p in entries)
    for entry in entries:  # hand-edit every entry into another valid one, keeping the recorded sha256
        digest, _, payload = entry.read_bytes().partition(b"\n")
        entry.write_bytes(digest + b"\n" + _doubled(entry.name, payload))
    again = Quantize().run(model, ctx).model
    assert again.fingerprint == first.fingerprint  # recomputed from scratch, not read from the edited entries
    assert all(read_scratch(p) is not None for p in entries)  # and rewritten whole


def _doubled(name: str, payload: bytes) -> bytes:
    """The entry's numbers doubled, still well-formed: only its sha256 tells it was edited."""
    if name.startswith("ranges-"):
        return json.dumps(_double_numbers(json.loads(payload))).encode()
    with np.load(io.BytesIO(payload), allow_pickle=False) as arrays:
        buffer = io.BytesIO()
        np.savez(buffer, **{key: arrays[key] * 2 for key in arrays.files})
    return buffer.getvalue()


def _double_numbers(value: Any) -> Any:
    if isinstance(value, float):
        return value * 2 + 0.5
    if isinstance(value, list):
        return [_double_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _double_numbers(v) for k, v in value.items()}
    return value
