"""The issue's acceptance script, command by command through the real CLI: three compiles, a promotion, a
regression caught against the promoted build, a second promotion, device results ingested, rollback.
`pytest -s tests/test_builds_history.py` prints the transcript."""

from __future__ import annotations

import json
import re

import pytest
from builds_fixtures import harness_results

from conftest import run_cli

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')


def test_scripted_history(project, session_cache):
    transcript = []

    def edgec(*args: str, code: int = 0) -> str:
        done = run_cli(*args, cwd=project, cache=session_cache)
        transcript.append(f"$ edgec {' '.join(args)}\n{done.stdout}{done.stderr}")
        assert done.returncode == code, transcript[-1]
        return done.stdout + done.stderr

    def compiled(*args: str, code: int = 0) -> str:
        out = edgec("compile", "--target", "rpi4", *args, code=code)
        return re.search(r"registered as build (\w+)", out).group(1)

    first = compiled("-o", "build/v1")
    second = compiled("-o", "build/v2", "--calibration", "percentile")
    listed = edgec("builds", "list")
    assert listed.count("digits-cnn") == 2 and first in listed and second in listed
    edgec("builds", "promote", first, "--target", "rpi4")
    # a 90%-sparse build within its own (loosened) budget, but far below the promoted build: caught
    regressed = ("-o", "build/v3", "--prune", "unstructured:0.9", "--no-search", "--max-drop", "100")
    third = compiled(*regressed, code=1)
    out = transcript[-1]
    assert "top1_change_vs_baseline_points" in out and "REGRESSION" in out
    report = json.loads((project / "build" / "v3" / "report.json").read_text())
    assert report["baseline_diff"]["base"] == f"promoted build {first}" and report["baseline_diff"]["regressed"]
    assert "verdict: REGRESSION" in edgec("report", "diff", "build/v3", code=1)  # BASE: the promoted build
    assert "verdict: REGRESSION" in edgec("builds", "diff", first, third, code=1)
    edgec("builds", "promote", second, "--target", "rpi4")
    results = project / "results.json"
    built = json.loads((project / "build" / "v2" / "report.json").read_text())
    results.write_text(json.dumps(harness_results(built, 1_700_000_000.0, 0.5, 0.99)))
    out = edgec("report", "ingest", str(results), "--build", "build/v2", "--label", "pi-lab")
    assert f"recorded in the build registry against build {second}" in out
    shown = edgec("builds", "show", second)
    assert "pi-lab" in shown and "promoted" in shown.splitlines()[0]
    out = edgec("builds", "rollback", "--target", "rpi4")
    assert out.startswith(f"rpi4: rolled back from build {second} to build {first}")
    assert f"{project / 'build' / 'v1' / 'digits-cnn.int8.onnx'}  sha256 " in out
    assert "* " + first in edgec("builds", "list")
    out = edgec("builds", "rollback", "--target", "rpi4", code=2)
    assert out.count("\n") == 1 and "no previous" in out
    print("\n".join(transcript))  # pytest -s shows the transcript for the closing note
