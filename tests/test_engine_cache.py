"""The pass manager: kind checking before anything runs, timing records, and the content-addressed cache."""

from __future__ import annotations

import json

import pytest

from conftest import make_context
from edgec.compiler.cache import PassCache, cache_key
from edgec.compiler.data import Dataset
from edgec.compiler.engine import check_chain, run_passes
from edgec.compiler.errors import PipelineError
from edgec.compiler.passes.cleanup import Cleanup
from edgec.compiler.passes.quantize import Quantize
from edgec.compiler.passes.torch_to_onnx import TorchToOnnx


def test_chain_check_names_both_sides():
    with pytest.raises(PipelineError, match="'torch-to-onnx' accepts a torch model but pass 'cleanup' produces"):
        check_chain("onnx", [Cleanup(), TorchToOnnx()])
    with pytest.raises(PipelineError, match="the input model produces a onnx model"):
        check_chain("onnx", [TorchToOnnx()])
    check_chain("torch", [TorchToOnnx(), Cleanup(), Quantize()])


def test_second_run_hits_the_cache_with_identical_output(tmp_path, tiny_onnx):
    model, _ = tiny_onnx
    cache = PassCache(tmp_path)
    first, records = run_passes(model, [Cleanup()], make_context(), cache)
    second, again = run_passes(model, [Cleanup()], make_context(), cache)
    assert [r.cached for r in records] == [False] and [r.cached for r in again] == [True]
    assert second.fingerprint == first.fingerprint
    assert again[0].modified == records[0].modified
    assert records[0].ops_before and records[0].seconds >= 0


def test_key_covers_config_input_and_calibration(tiny_onnx):
    model, _ = tiny_onnx
    base = cache_key(Quantize(), model, "calib-a")
    assert cache_key(Quantize(calibration="entropy"), model, "calib-a") != base
    assert cache_key(Quantize(), model, "calib-b") != base
    assert cache_key(Quantize(), model, "calib-a") == base  # and it is stable
    # cleanup does not read calibration data, so its key must not depend on it
    assert cache_key(Cleanup(), model, "calib-a") == cache_key(Cleanup(), model, "calib-b")


def test_torn_or_tampered_entry_is_never_trusted(tmp_path, tiny_onnx):
    model, _ = tiny_onnx
    cache = PassCache(tmp_path)
    run_passes(model, [Cleanup()], make_context(), cache)
    (entry,) = [p for p in (tmp_path / "passes").glob("*/*") if p.is_dir()]
    payload = entry / "model.bin"
    payload.write_bytes(payload.read_bytes()[: len(payload.read_bytes()) // 2])  # a torn write
    _, records = run_passes(model, [Cleanup()], make_context(), cache)
    assert records[0].cached is False  # recomputed, not loaded
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["sha256"] and payload.stat().st_size > 0  # and the entry was rewritten whole


def test_calibration_hash_is_content_based(tiny_data):
    a = Dataset({"image": tiny_data}, None, "a")
    b = Dataset({"image": tiny_data.copy()}, None, "b")
    c = Dataset({"image": tiny_data + 1e-3}, None, "c")
    assert a.sha256 == b.sha256 != c.sha256
