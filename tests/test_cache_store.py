"""The pass cache on an fsspec URL: entries shared by processes, verified on read, never torn.

`local://` is fsspec's own local filesystem, so the URL code path (one object per entry, written under a
temporary name and moved) runs here with real processes; `memory://` checks tampering within one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import make_context
from edgec.compiler.cache import PassCache
from edgec.compiler.cache_store import FolderStore, FsspecStore, open_store
from edgec.compiler.engine import run_passes
from edgec.compiler.passes.cleanup import Cleanup

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}


def test_a_url_opens_fsspec_and_a_path_a_folder(tmp_path):
    assert isinstance(open_store(tmp_path), FolderStore)
    assert isinstance(open_store(f"file://{tmp_path}"), FolderStore)
    assert isinstance(open_store(f"local://{tmp_path}/remote"), FsspecStore)


def test_tampered_object_is_never_trusted(tiny_onnx):
    model, _ = tiny_onnx
    cache = PassCache("memory://edgec-test-cache")
    first, records = run_passes(model, [Cleanup()], make_context(), cache)
    _, again = run_passes(model, [Cleanup()], make_context(), cache)
    assert [r.cached for r in records + again] == [False, True]
    store = cache._store
    assert isinstance(store, FsspecStore)
    (entry,) = store.fs.find(store.root)
    store.fs.pipe_file(entry, store.fs.cat_file(entry)[:-100])  # a torn upload
    second, records = run_passes(model, [Cleanup()], make_context(), cache)
    assert records[0].cached is False and second.fingerprint == first.fingerprint
    assert run_passes(model, [Cleanup()], make_context(), cache)[1][0].cached is True  # rewritten whole


def test_processes_share_a_url_cache_at_once(tmp_path, tiny_onnx):
    _, model_path = tiny_onnx
    url = f"local://{tmp_path}/shared"
    np_data = tmp_path / "calib.npy"
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import numpy as np; np.save('{np_data}', np.random.default_rng(0).random((24, 1, 8, 8), np.float32))",
        ],
        check=True,
    )

    def compile_(out: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "edgec.cli", "compile", str(model_path), "--calib", str(np_data)]
        return subprocess.Popen(
            [*command, "-o", str(tmp_path / out), "--cache-dir", url], env=ENV, stderr=subprocess.PIPE, text=True
        )

    racers = [compile_("a"), compile_("b")]
    for process in racers:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    last = compile_("c")
    assert last.wait(timeout=600) == 0
    reports = [json.loads((tmp_path / out / "report.json").read_text()) for out in "abc"]
    assert len({r["artifacts"][0]["sha256"] for r in reports}) == 1
    assert all(rec["cached"] for rec in reports[2]["artifacts"][0]["passes"])  # everything from the URL cache
    entries = [p for p in (tmp_path / "shared" / "passes").glob("*/*") if not p.name.startswith(".")]
    assert entries and all(p.suffix == ".entry" for p in entries)
    assert not list((tmp_path / "shared" / "passes").glob("*/.*"))  # no staging object left behind
