"""report.json against its published schema: the demo's report matches it, and a report that does not is refused
with the place it breaks."""

from __future__ import annotations

import copy
import json

import pytest

from conftest import run_cli
from edgec.compiler.errors import InputError
from edgec.compiler.report_schema import check_report, report_schema


def _as_written(demo_build) -> dict:
    return json.loads((demo_build.path / "report.json").read_text())


def test_the_schema_is_itself_valid_and_the_demo_report_matches_it(demo_build):
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(report_schema())
    report = _as_written(demo_build)
    check_report(report, "demo")
    assert report_schema()["properties"]["schema_version"]["pattern"].startswith("^" + report["schema_version"][0])


@pytest.mark.parametrize(
    "breakage, where",
    [
        (lambda r: r["artifacts"][0]["evaluation"]["drift"].pop("rmse"), "artifacts/0/evaluation/drift"),
        (lambda r: r["artifacts"][1]["latency"].update(p50_ms="fast"), "artifacts/1/latency/p50_ms"),
        (lambda r: r["source"].update(sha256="not-a-hash"), "source/sha256"),
        (lambda r: r["gate"].update(on="vibes"), "gate/on"),
        (lambda r: r["artifacts"][0]["trace"]["layers"]["tensors"][0].pop("op"), "trace/layers/tensors/0"),
    ],
)
def test_a_report_that_breaks_the_schema_is_refused_with_the_place(demo_build, breakage, where):
    report = copy.deepcopy(_as_written(demo_build))
    breakage(report)
    with pytest.raises(InputError, match=where):
        check_report(report, "crafted")


def test_report_show_refuses_a_broken_report_in_one_line_and_reads_an_older_minor_version(demo_build, tmp_path):
    broken = _as_written(demo_build)
    broken["artifacts"][0]["size_bytes"] = -1
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    result = run_cli("report", "show", str(tmp_path / "broken.json"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "artifacts/0/size_bytes" in result.stderr
    older = _as_written(demo_build)
    older["schema_version"] = "1.0"
    for art in older["artifacts"]:  # what 1.0 did not have
        del art["latency"], art["trace"], art["macs"], art["io_layout"]
    (tmp_path / "older.json").write_text(json.dumps(older))
    result = run_cli("report", "diff", str(tmp_path / "older.json"), str(demo_build.path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_io_layout_alone_lets_a_runner_reproduce_each_artifacts_accuracy(demo_build):
    """What a device-side runner will have: the artifact file and its report entry, no compiler objects."""
    from edgec.compiler.frontends.demo import demo_split
    from edgec.compiler.kinds_tf import IoLayout
    from edgec.runtimes import open_runner
    from edgec.runtimes.layout import artifact_inputs
    from edgec.runtimes.runner import run_batched

    data = demo_split("eval")
    for art in _as_written(demo_build)["artifacts"]:
        layout = IoLayout.from_dict(art["io_layout"]) if art["io_layout"] else None
        assert (layout is None) == (art["format"] == "onnx")  # only the TFLite artifact is channels-last
        # the runner the report names as the source of its numbers (exact QDQ math where this host's int8
        # kernels are not the target's)
        runner = open_runner(art["evaluation"]["kernels"]["runtime"], demo_build.path / art["file"])
        (outputs, *_) = run_batched(runner, artifact_inputs(data.inputs, layout))
        assert (outputs.argmax(axis=1) == data.labels).mean() == pytest.approx(art["evaluation"]["accuracy"])
