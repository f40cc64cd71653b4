"""report diff / show and compile --baseline: regressions caught, noise forgiven, bad input refused."""

from __future__ import annotations

import copy
import json

import pytest

from conftest import run_cli


def _with_accuracy(report: dict, accuracy: float, half_width: float) -> dict:
    """The demo's report with every artifact's top-1 and its 95% interval rewritten."""
    crafted = copy.deepcopy(report)
    for art in crafted["artifacts"]:
        art["evaluation"]["accuracy"] = accuracy
        art["evaluation"]["statistics"]["accuracy_interval"] = [accuracy - half_width, accuracy + half_width]
    return crafted


def _write(tmp_path, name: str, report: dict):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(report))
    return str(path)


@pytest.mark.parametrize(
    "base, new, code, verdict",
    [
        ((0.95, 0.013), (0.945, 0.013), 0, "within noise"),  # 0.5 points on ~1.3-point intervals: noise
        ((0.95, 0.004), (0.90, 0.005), 1, "REGRESSION: top-1 fell 5.00 points"),  # 5 points, ~0.6-point noise
        ((0.95, 0.004), (0.96, 0.004), 0, "within the allowed drop"),  # it improved
    ],
)
def test_diff_exits_1_only_on_a_fall_beyond_noise(demo_build, tmp_path, base, new, code, verdict):
    base_path = _write(tmp_path, "base", _with_accuracy(demo_build.report, *base))
    new_path = _write(tmp_path, "new", _with_accuracy(demo_build.report, *new))
    result = run_cli("report", "diff", base_path, new_path)
    assert result.returncode == code, result.stdout + result.stderr
    assert verdict in result.stdout and result.stdout.count("| onnx |") == 1


def test_the_allowed_drop_forgives_a_real_but_small_fall(demo_build, tmp_path):
    base_path = _write(tmp_path, "base", _with_accuracy(demo_build.report, 0.95, 0.002))
    new_path = _write(tmp_path, "new", _with_accuracy(demo_build.report, 0.94, 0.002))
    assert run_cli("report", "diff", base_path, new_path).returncode == 1
    assert run_cli("report", "diff", base_path, new_path, "--max-drop", "1.5").returncode == 0


def test_an_artifact_missing_from_the_new_build_is_a_regression(demo_build, tmp_path):
    crafted = copy.deepcopy(demo_build.report)
    crafted["artifacts"] = crafted["artifacts"][:1]
    result = run_cli("report", "diff", str(demo_build.path), _write(tmp_path, "new", crafted))
    assert result.returncode == 1 and "the new build has no such artifact" in result.stdout


@pytest.mark.parametrize("content, message", [("{", "not valid JSON"), ('{"a": 1}', "not an edgec report")])
def test_a_file_that_is_not_a_report_gets_one_line(tmp_path, demo_build, content, message):
    (tmp_path / "bad.json").write_text(content)
    result = run_cli("report", "diff", str(demo_build.path), str(tmp_path / "bad.json"))
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_show_prints_the_intervals_and_exits_with_the_gate(demo_build):
    result = run_cli("report", "show", str(demo_build.path))
    assert result.returncode == 0 and "95% interval" in result.stdout and "gate: PASS" in result.stdout


@pytest.mark.slow
def test_compile_that_falls_below_its_baseline_fails_and_records_why(demo_build, tmp_path, session_cache):
    # the demo with three quarters of its channels cut and nothing recovered: far below the demo's 99.4%
    broken = ("--prune", "prune-channels{ratio=0.75,recovery=none}", "--max-drop", "100")
    out = tmp_path / "build"
    result = run_cli(
        "compile", "--target", "rpi4", *broken, "--baseline", str(demo_build.path), "-o", str(out), cache=session_cache
    )
    assert result.returncode == 1 and "onnx: top1_change_vs_baseline_points" in result.stderr, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["baseline_diff"]["regressed"] and not report["gate"]["passed"]
    same = run_cli(
        "compile",
        "--target",
        "rpi4",
        "--baseline",
        str(demo_build.path),
        "-o",
        str(tmp_path / "b2"),
        cache=session_cache,
    )
    assert same.returncode == 0, same.stderr
    assert "vs baseline onnx: top-1 change +0.00 points (ok)" in same.stdout


def _with_latency(report: dict, p50: float, spread: float, n: int, cpu: str | None = None) -> dict:
    """The demo's report with every artifact's host latency rewritten: median `p50`, quartiles +/- spread/2."""
    crafted = copy.deepcopy(report)
    for art in crafted["artifacts"]:
        art["latency"].update(p25_ms=p50 - spread / 2, p50_ms=p50, p75_ms=p50 + spread / 2, n=n)
        art["latency"]["cpu"] = cpu or art["latency"]["cpu"]
    return crafted


def test_the_demo_report_has_host_latency_per_artifact(demo_build):
    for art in demo_build.report["artifacts"]:
        latency = art["latency"]
        assert latency["where"] == "host" and latency["n"] >= 20 and len(latency["samples_ms"]) == latency["n"]
        assert 0 < latency["min_ms"] <= latency["p50_ms"] <= latency["p90_ms"] <= latency["p99_ms"]
        assert latency["runtime"].split()[0] == art["runtime"]


@pytest.mark.parametrize(
    "new, cpu, code, verdict",
    [
        ((1.5, 0.1, 200), None, 1, "latency REGRESSION: median rose 50.0%"),  # noise about 1.8%
        ((1.05, 1.0, 20), None, 0, "within noise"),  # +5% on quartiles a whole ms apart, 20 runs: noise ~41%
        ((1.5, 0.1, 200), "another CPU", 0, "different CPU"),  # machines compared, not builds: not gated
    ],
)
def test_latency_is_gated_beyond_noise_on_like_machines_only(demo_build, tmp_path, new, cpu, code, verdict):
    base_path = _write(tmp_path, "base", _with_latency(demo_build.report, 1.0, 0.1, 200))
    new_path = _write(tmp_path, "new", _with_latency(demo_build.report, *new, cpu=cpu))
    result = run_cli("report", "diff", base_path, new_path, "--max-latency-increase", "2")
    assert result.returncode == code, result.stdout + result.stderr
    assert verdict in result.stdout
    assert run_cli("report", "diff", base_path, new_path).returncode == 0  # without the flag latency is not gated
