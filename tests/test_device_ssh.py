"""`edgec run --device ssh://...` for real: an sshd started on 127.0.0.1 by the test, a key made by the test,
the harness's venv created on the "device" by `--setup-venv`, and the results folded into the build."""

from __future__ import annotations

import json
import shutil

import pytest
from sshd_server import SshServer, start_sshd

from conftest import run_cli

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')


@pytest.fixture(scope="module")
def sshd(tmp_path_factory) -> SshServer:
    with start_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def _ssh_flags(server: SshServer) -> list[str]:
    return ["--identity", str(server.identity), "--known-hosts", str(server.known_hosts)]


def test_run_over_ssh_sets_up_the_device_and_lands_in_the_report(sshd, demo_bundle, demo_build, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(demo_build.path, build)
    workdir = tmp_path / "device-home"  # absolute: the "device" is this machine
    out = tmp_path / "results.json"
    done = run_cli(
        "run", str(demo_bundle), "--device", sshd.url, *_ssh_flags(sshd), "--setup-venv", "--workdir", str(workdir),
        "--runs", "20", "--min-seconds", "0.2", "-o", str(out), "--build", str(build),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (workdir / "venv" / "bin" / "python").exists()
    assert "device checks: PASS" in done.stdout
    results = json.loads(out.read_text())
    assert results["environment"]["python_executable"].startswith(str(workdir / "venv"))
    (run,) = json.loads((build / "report.json").read_text())["device_runs"]
    assert run["label"] == sshd.url
    for artifact in run["artifacts"]:
        latency = artifact["latency"]
        assert latency["where"] == "device" and latency["n"] >= 20
        assert 0 < latency["p50_ms"] <= latency["p90_ms"] <= latency["p95_ms"] <= latency["p99_ms"]
        assert artifact["memory"]["peak_rss_bytes"] > 10 << 20
    assert "On the device" in (build / "report.html").read_text()


def test_an_unreachable_device_is_one_clear_line(demo_bundle, tmp_path):
    closed = "ssh://nobody@127.0.0.1:9"  # discard port: nothing listens on loopback
    done = run_cli("run", str(demo_bundle), "--device", closed, "-o", str(tmp_path / "r.json"))
    assert done.returncode == 5
    errors = [line for line in done.stderr.splitlines() if line.startswith("edgec: error:")]
    assert errors == [line for line in done.stderr.splitlines() if "Traceback" in line or "error" in line]
    (error,) = errors
    assert error.startswith(f"edgec: error: {closed}: cannot connect (") and "Connection refused" in error
    assert "`ssh -p 9 nobody@127.0.0.1` must log in without a password" in error
    assert not (tmp_path / "r.json").exists()


def test_a_missing_python_is_named(sshd, demo_bundle, tmp_path):
    args = ["--python", "/nonexistent/python3", "--workdir", str(tmp_path / "w"), "-o", str(tmp_path / "r.json")]
    done = run_cli("run", str(demo_bundle), "--device", sshd.url, *_ssh_flags(sshd), *args)
    assert done.returncode == 5
    assert "no /nonexistent/python3 on the device; install Python 3.9+ or pass --python PATH" in done.stderr


def test_a_missing_runtime_is_named_with_the_fix(sshd, demo_bundle, tmp_path):
    from device_fixtures import make_venv

    bare = make_venv(tmp_path / "bare")  # Python without numpy or any runtime
    args = ["--python", str(bare), "--workdir", str(tmp_path / "w"), "-o", str(tmp_path / "r.json")]
    done = run_cli("run", str(demo_bundle), "--device", sshd.url, *_ssh_flags(sshd), *args)
    assert done.returncode == 5
    assert f"numpy does not import with {bare} on the device; pass --setup-venv" in done.stderr


def test_a_bad_device_url_is_refused(demo_bundle):
    done = run_cli("run", str(demo_bundle), "--device", "http://example.org")
    assert done.returncode == 2 and "expected ssh://[user@]host[:port]" in done.stderr


def test_a_relative_device_python_is_found_from_the_run_folder():
    """ssh commands start in the device's home; the harness runs inside the run folder below it."""
    from edgec.compiler.remote import _from

    assert _from(".edgec/runs/0123abcd", ".edgec/venv/bin/python") == "../../../.edgec/venv/bin/python"
    assert _from(".edgec/runs/0123abcd", "/opt/venv/bin/python") == "/opt/venv/bin/python"
    assert _from(".edgec/runs/0123abcd", "python3") == "python3"
