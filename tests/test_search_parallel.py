"""The budgeted searches on a pool of local workers: the same trials and choices as in one process, and a
candidate whose worker dies is lost alone."""

from __future__ import annotations

import os

import pytest

from conftest import search_numbers
from edgec.compiler.api import CompileOptions, compile
from edgec.compiler.executors import LocalExecutor, Lost
from edgec.compiler.prune_request import parse_prune

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')


def _square_or_die(offset: int, item: int) -> int:
    """A candidate stand-in: item 3 kills its worker process, as an OOM kill or a converter crash would."""
    if item == 3:
        os._exit(9)
    return item * item + offset


def test_a_dead_worker_loses_only_its_item():
    results = LocalExecutor(2).map(_square_or_die, 10, [1, 2, 3, 4, 5])
    assert results[:2] == [11, 14] and results[3:] == [26, 35]
    assert isinstance(results[2], Lost) and "worker process died" in results[2].reason


@pytest.fixture
def pool_calls(monkeypatch) -> list[int]:
    """How many candidates each call handed to the worker pool (the real pool still runs them)."""
    calls: list[int] = []
    real = LocalExecutor.map

    def counted(self, function, shared, items):
        calls.append(len(items))
        return real(self, function, shared, items)

    monkeypatch.setattr(LocalExecutor, "map", counted)
    return calls


def _sensitive_head(digits_npz, out, cache, jobs):
    options = CompileOptions(
        source="edgec.models.hard:make_sensitive_head_digits",
        input_shapes=((1, 1, 8, 8),),
        calib=digits_npz["calib"],
        eval=digits_npz["eval"],
        output=out,
        cache_dir=cache,
        progress=False,
        jobs=jobs,
    )
    return compile(options)


def test_the_fallback_search_on_two_workers_matches_one_process(digits_npz, tmp_path, session_cache, pool_calls):
    alone = _sensitive_head(digits_npz, tmp_path / "one", session_cache, 1)
    assert pool_calls == []  # one worker: every candidate in this process
    pooled = _sensitive_head(digits_npz, tmp_path / "two", tmp_path / "fresh-cache", 2)  # workers compute
    (one,), (two,) = alone.report["search"].values(), pooled.report["search"].values()
    assert pool_calls and all(n == 2 for n in pool_calls[:-1])  # sensitivity trials went two at a time
    assert sum(pool_calls) == sum(t["stage"] == "sensitivity" for t in two["trials"]) >= 4
    assert search_numbers(two) == search_numbers(one) and two["chosen"]["float_nodes"] == ["node_linear"]
    artifacts = [{a["file"]: a["sha256"] for a in r.report["artifacts"]} for r in (alone, pooled)]
    assert artifacts[0] == artifacts[1]


def test_the_prune_search_on_two_workers_chooses_the_same_amount(tmp_path, session_cache, pool_calls):
    found = {}
    for jobs in (1, 2):
        options = CompileOptions(
            target="rpi4",
            output=tmp_path / f"jobs{jobs}",
            prune=parse_prune("unstructured:auto"),
            cache_dir=session_cache,
            progress=False,
            jobs=jobs,
        )
        found[jobs] = compile(options).report["prune_search"]
    assert pool_calls and pool_calls[0] == 2  # the grid went to the pool two points at a time
    assert found[2]["chosen"] == found[1]["chosen"] is not None
    points = [{p["amount"]: p for p in found[jobs]["curve"]} for jobs in (1, 2)]
    for amount in points[0].keys() & points[1].keys():
        one, two = points[0][amount], points[1][amount]
        assert (one["passed"], one["accuracy_drop_points"], one["size_bytes"]) == (
            two["passed"],
            two["accuracy_drop_points"],
            two["size_bytes"],
        )
    assert set(points[0]) <= set(points[1])  # a wider executor may measure past the first failure, never less


def test_a_failing_candidate_is_reported_and_the_search_goes_on(digits_npz, tmp_path, session_cache, monkeypatch):
    from edgec.compiler import candidates

    real = candidates.build_and_run

    def linear_breaks(bench, passes, cache=None):
        if any(getattr(p, "exclude_nodes", ()) == ("node_linear",) for p in passes):
            return candidates.Outcome(error="ToolchainError: the converter crashed")
        return real(bench, passes, cache)

    monkeypatch.setattr(candidates, "build_and_run", linear_breaks)
    (found,) = _sensitive_head(digits_npz, tmp_path / "out", session_cache, 1).report["search"].values()
    assert found["failed_candidates"] == [
        {"stage": "sensitivity", "float_nodes": ["node_linear"], "error": "ToolchainError: the converter crashed"}
    ]
    gains = {row["node"]: row["sqnr_gain_db"] for row in found["sensitivity"]}
    assert gains.pop("node_linear") is None and len(gains) >= 3 and all(g is not None for g in gains.values())
    assert ["node_linear"] not in [t["float_nodes"] for t in found["trials"]]  # the rest of the search went on


def test_a_candidate_that_does_not_build_is_an_outcome_with_its_error(tiny_onnx, tiny_data):
    from conftest import make_context
    from edgec.compiler.candidates import Workbench, build_and_run, pack
    from edgec.compiler.data import Dataset
    from edgec.compiler.passes.tflite import Tflite

    evaluation = Dataset({"image": tiny_data}, None, "tiny")
    bench = Workbench(pack(tiny_onnx[0]), make_context(), evaluation, "litert", 1, "tiny")
    outcome = build_and_run(bench, (Tflite(),))  # a tflite pass cannot take an ONNX model
    assert outcome.run is None and outcome.packed is None
    assert outcome.error.startswith("PipelineError: pass 'tflite' accepts a tf model")
