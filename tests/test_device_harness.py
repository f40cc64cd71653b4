"""The device side: a bundle runs in a venv holding only `edgec[device]` (no torch, TensorFlow or onnx), and
its results fold back into the build's report."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from device_fixtures import install_device_extra, make_venv

from conftest import run_cli
from edgec.compiler.report import SCHEMA_VERSION

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')

HEAVY = ("torch", "tensorflow", "onnx", "tf_keras", "onnxscript", "click")


@pytest.fixture(scope="session")
def device_python(tmp_path_factory) -> Path:
    """A venv made by `pip install edgec[device]` alone."""
    scratch = tmp_path_factory.mktemp("device-venv")
    return install_device_extra(scratch / "venv", scratch)


@pytest.fixture(scope="session")
def device_results(device_python, demo_bundle, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("results") / "results.json"
    argv = [str(device_python), "-m", "edgec.runtimes.harness", str(demo_bundle), "--out", str(out)]
    done = subprocess.run([*argv, "--runs", "30", "--min-seconds", "0.2"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def test_device_venv_has_no_compiler_libraries(device_python):
    probe = f"import importlib.util as u; print([m for m in {HEAVY!r} if u.find_spec(m)])"
    found = subprocess.run([str(device_python), "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
    runtimes = "import numpy, onnxruntime, ai_edge_litert, edgec.runtimes.harness"
    subprocess.run([str(device_python), "-c", runtimes], check=True)


def test_harness_measures_the_demo_bundle_without_the_compiler(device_results, demo_build):
    report = demo_build.report
    assert [run["artifact"] for run in device_results["runs"]] == [a["name"] for a in report["artifacts"]]
    for run, artifact in zip(device_results["runs"], report["artifacts"], strict=True):
        assert run["sha256"] == artifact["sha256"]
        latency = run["latency"]
        assert latency["n"] >= 30 and len(latency["samples_ms"]) == latency["n"]
        assert 0 < latency["p50_ms"] <= latency["p90_ms"] <= latency["p95_ms"] <= latency["p99_ms"]
        assert latency["throughput_per_s"] == pytest.approx(1e3 * latency["n"] / sum(latency["samples_ms"]), rel=0.01)
        assert run["load_ms"] > 0 and run["first_inference_ms"] > 0
        assert run["memory"]["peak_rss_bytes"] > run["memory"]["start_rss_bytes"] > 10 << 20
        assert run["kernels"]["fast_path"] and run["kernels"]["int8_kernels"] >= 4  # 3 convs and the dense layer
        accuracy = run["accuracy"]
        assert accuracy["samples"] == 256
        assert accuracy["accuracy"] >= 0.97 and abs(accuracy["drop_points"]) <= 1.0
        # same runtime and kernels on this machine as on the host: device vs host outputs match bit for bit
        assert accuracy["vs_host"]["identical_fraction"] == 1.0
        # int8 error is there, against the float model, and it is this machine's: where the build judged the
        # artifact on other kernels (rpi4 is Arm), the host's own numbers are the ones the "device" measures
        evaluation = artifact["evaluation"]
        here = (evaluation["host_kernels"] or {}).get("sqnr_db", evaluation["drift"]["sqnr_db"])
        assert 10 < accuracy["vs_float"]["sqnr_db"] < 60 and accuracy["vs_float"]["sqnr_db"] == pytest.approx(
            here, abs=1.5
        )
    tflite = device_results["runs"][1]["kernels"]
    assert tflite["delegate"]["name"] == "XNNPACK" and tflite["delegate"]["partitions"] >= 1
    assert "QLinearConv@CPU" in device_results["runs"][0]["kernels"]["kernels"]
    environment = device_results["environment"]
    assert environment["cores"] >= 1 and environment["cpu"] and "governor" in environment["before"]


def test_bundle_is_deterministic_and_self_contained(demo_build, demo_bundle, tmp_path):
    again = tmp_path / "again.bundle"
    assert run_cli("bundle", str(demo_build.path), "-o", str(again)).returncode == 0
    assert again.read_bytes() == demo_bundle.read_bytes()
    names = zipfile.ZipFile(demo_bundle).namelist()
    assert "__main__.py" in names and "edgec/runtimes/harness.py" in names
    assert not [n for n in names if n.startswith("edgec/compiler") or (n.endswith(".onnx") and "baseline" in n)]


def test_a_corrupted_bundle_is_refused_by_name(demo_bundle, tmp_path, device_python):
    broken = tmp_path / "broken.bundle"
    with zipfile.ZipFile(demo_bundle) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, data[:-1] + b"\0" if info.filename.endswith(".tflite") else data)
    done = subprocess.run([str(device_python), str(broken), "--out", str(tmp_path / "r.json")], capture_output=True)
    assert done.returncode == 2
    assert b"artifacts/digits-cnn.int8.tflite does not match its sha256" in done.stderr
    assert not (tmp_path / "r.json").exists()


def test_a_missing_runtime_is_reported_per_artifact(demo_bundle, tmp_path):
    without_litert = make_venv(tmp_path / "without-litert", "numpy", "onnxruntime")
    out = tmp_path / "results.json"
    done = subprocess.run([str(without_litert), str(demo_bundle), "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "tflite: runtime litert is not installed on this device" in done.stderr
    assert "pip install ai-edge-litert" in done.stderr
    runs = {run["artifact"]: run for run in json.loads(out.read_text())["runs"]}
    assert "error" not in runs["onnx"] and runs["onnx"]["latency"]["n"] >= 50  # the rest still measured


def test_ingest_adds_the_device_run_and_checks_it(device_results, demo_build, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(demo_build.path, build)
    results = tmp_path / "results.json"
    results.write_text(json.dumps(device_results))
    done = run_cli("report", "ingest", str(results), "--build", str(build), "--label", "bench-pi")
    assert done.returncode == 0, done.stderr
    assert "device checks: PASS" in done.stdout
    report = json.loads((build / "report.json").read_text())
    assert report["schema_version"] == SCHEMA_VERSION
    (run,) = report["device_runs"]
    assert run["label"] == "bench-pi" and run["passed"]
    metrics = {(c["artifact"], c["metric"]) for c in run["checks"]}
    assert ("tflite", "device_p90_ms") in metrics and ("onnx", "device_vs_host_agreement") in metrics
    assert all(a["latency"]["where"] == "device" for a in run["artifacts"])
    assert "On the device" in (build / "report.html").read_text()
    assert run_cli("report", "show", str(build)).returncode == 0  # still a valid report of this schema
    # the same results again replace their entry instead of adding one
    assert run_cli("report", "ingest", str(results), "--build", str(build)).returncode == 0
    assert len(json.loads((build / "report.json").read_text())["device_runs"]) == 1


def test_ingest_fails_a_device_over_its_latency_budget(device_results, demo_build, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(demo_build.path, build)
    slow = json.loads(json.dumps(device_results))
    slow["runs"][0]["latency"]["p90_ms"] = 80.0  # rpi4's budget is 50 ms
    results = tmp_path / "results.json"
    results.write_text(json.dumps(slow))
    done = run_cli("report", "ingest", str(results), "--build", str(build))
    assert done.returncode == 1
    assert "onnx: device_p90_ms 80 (budget <= 50) OVER BUDGET" in done.stdout


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r["runs"][0].update(sha256="0" * 64), "is not in this build"),
        (lambda r: r.pop("environment"), "harness results without environment"),
        (lambda r: r.update(results_format=9), "not harness results of format 1"),
        (lambda r: r["runs"][0]["latency"].update(p50_ms=-1), "device_runs/0/artifacts/0"),
    ],
)
def test_ingest_refuses_results_it_cannot_trust(device_results, demo_build, tmp_path, edit, message):
    bad = json.loads(json.dumps(device_results))
    edit(bad)
    results = tmp_path / "results.json"
    results.write_text(json.dumps(bad))
    before = (demo_build.path / "report.json").read_bytes()
    done = run_cli("report", "ingest", str(results), "--build", str(demo_build.path))
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert (demo_build.path / "report.json").read_bytes() == before


def test_report_html_rerenders_from_report_json(demo_build, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(demo_build.path, build)
    (build / "report.html").write_text("stale")
    assert run_cli("report", "html", str(build)).returncode == 0
    page = (build / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64" in page
    assert run_cli("report", "show", str(build)).returncode == 0


def test_a_float_fallback_is_not_called_the_fast_path(demo_build):
    """The float baseline run as if it were the int8 artifact: ORT's profiler shows float Conv kernels."""
    import numpy as np

    from edgec.runtimes.kernels import onnxruntime_kernels

    model = (demo_build.path / "baseline.float32.onnx").read_bytes()
    feeds = {"image": np.zeros((1, 1, 8, 8), np.float32)}
    as_int8 = onnxruntime_kernels(model, feeds, threads=1, int8=True)
    assert not as_int8["fast_path"] and as_int8["int8_kernels"] == 0
    assert {"Conv", "FusedConv"} & set(as_int8["float_compute_kernels"])
    assert onnxruntime_kernels(model, feeds, threads=1, int8=False)["fast_path"]  # float is its own fast path


def test_bounded_runs_meets_its_floors_and_stops_at_its_caps():
    from edgec.runtimes.timing import bounded_runs

    class Instant:
        def run(self, feeds):
            return []

    runner = Instant()
    assert len(bounded_runs(runner, {}, min_runs=25, min_seconds=0)) == 25  # the run floor
    assert len(bounded_runs(runner, {}, min_runs=20, min_seconds=5, max_runs=7)) == 7  # the run cap wins
    started = time.perf_counter()
    bounded_runs(runner, {}, min_runs=10**9, min_seconds=5, max_seconds=0.05)  # the time cap wins
    assert 0.05 <= time.perf_counter() - started < 2.0
    assert len(bounded_runs(runner, {}, min_runs=0, min_seconds=0)) == 1  # never zero samples


def test_harness_usage_error_is_one_line(capsys):
    from edgec.runtimes import harness

    with pytest.raises(SystemExit) as exited:
        harness.main(["x.bundle", "--runs", "-3"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "harness: error: --runs must not be negative (see edgec-harness --help)"
    ]
