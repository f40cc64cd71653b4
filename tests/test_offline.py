"""A full compile with the network made impossible, and the proof that nothing in it even tried.

A passing offline compile only shows that nothing *needed* the network; a library that tries, fails and
falls back quietly (a telemetry upload, a hub lookup) passes too. So the compile runs under stacked guards,
and every attempt is recorded:
  1. `unshare -n`: a network namespace with no interface up, so nothing can leave, whatever the code;
  2. a sitecustomize.py first on PYTHONPATH that records and refuses socket connect/connect_ex,
     create_connection and getaddrinfo in every Python process of the compile;
  3. strace on the connect/send system calls, for native code that resolves and connects without Python's
     socket module. ONNX Runtime's telemetry is such code, and it uploads on a timer a short compile may not
     reach, so the store it queues events in (in HOME, for a later online run) must not appear either: it
     does unless edgec/__init__.py turns the telemetry off.
The same guards first stop a probe that does try, so a guard that silently failed to install is caught.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from edgec.compiler.report import stages

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')

GUARD = '''"""Written by tests/test_offline.py: record every attempt to reach the network, then refuse it."""
import errno
import os
import socket

_LOG = os.environ["EDGEC_NETWORK_LOG"]


def _refuse(call, target):
    with open(_LOG, "a") as log:
        log.write(f"{os.getpid()} {call} {target!r}\\n")
    raise OSError(errno.ENETUNREACH, f"offline test: {call} {target!r} refused")


def _guarded(original, call):
    def method(self, address):
        if self.family == socket.AF_UNIX:  # a local socket file, not the network
            return original(self, address)
        return _refuse(call, address)

    return method


socket.socket.connect = _guarded(socket.socket.connect, "connect")
socket.socket.connect_ex = _guarded(socket.socket.connect_ex, "connect_ex")
socket.create_connection = lambda address, *args, **kwargs: _refuse("create_connection", address)
socket.getaddrinfo = lambda host, port, *args, **kwargs: _refuse("getaddrinfo", (host, port))
'''
# Tries the network three ways; the raw _socket bypasses the Python guard, as native code would.
PROBE = """
import _socket, socket
raw = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
raw.settimeout(2)
for name, attempt in (
    ("create_connection", lambda: socket.create_connection(("192.0.2.1", 80), timeout=2)),
    ("getaddrinfo", lambda: socket.getaddrinfo("example.com", 443)),
    ("raw connect", lambda: raw.connect(("192.0.2.1", 80))),
):
    try:
        attempt()
    except OSError as exc:
        print(name, "failed:", exc)
    else:
        print(name, "CONNECTED")
"""
# every process and thread; stops only on the calls that address a peer (seccomp filter: cheap)
TRACE = ("-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg,sendmmsg", "-e", "signal=none")
ORT_TELEMETRY_STORE = Path(".cache/Microsoft/DeveloperTools/.onnxruntime")  # under HOME


def test_compile_passes_with_the_network_impossible_and_tries_nothing(tmp_path):
    guard = _Guard(tmp_path)
    probe = guard.run("-c", PROBE)
    assert probe.returncode == 0 and "CONNECTED" not in probe.stdout, probe.stdout + probe.stderr
    assert {"create_connection", "getaddrinfo"} <= {line.split()[1] for line in guard.python_attempts()}, (
        f"the sitecustomize guard is not installed: {probe.stderr}"
    )
    if guard.strace:
        assert any("192.0.2.1" in line for line in guard.native_attempts()), "strace did not see the raw connect"
    guard.clear()

    out = tmp_path / "build"
    done = guard.run("-m", "edgec.cli", "compile", "--target", "rpi4", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert guard.python_attempts() == [], "a library tried the network from Python"
    assert guard.native_attempts() == [], "native code tried the network"
    assert not (guard.home / ORT_TELEMETRY_STORE).exists(), "ONNX Runtime's telemetry is on: it queued events"
    report = json.loads((out / "report.json").read_text())
    assert report["gate"]["passed"], report["gate"]["checks"]
    ran = {rec["name"] for _, rec in stages(report) if not rec["cached"]}
    assert {"torch-to-onnx", "quantize", "onnx-to-tf", "tflite"} <= ran  # an empty cache: every pass ran offline
    assert [a["file"] for a in report["artifacts"]] == ["digits-cnn.int8.onnx", "digits-cnn.int8.tflite"]
    for artifact in report["artifacts"]:  # the files on disk are the ones that were validated
        assert hashlib.sha256((out / artifact["file"]).read_bytes()).hexdigest() == artifact["sha256"]


class _Guard:
    """Runs Python under the stacked guards, with a fresh HOME and edgec cache, and reads what they recorded."""

    def __init__(self, folder: Path):
        self.home, self.log, self.trace = folder / "home", folder / "python-attempts.log", folder / "strace.log"
        sitecustomize = folder / "guard" / "sitecustomize.py"
        for path in (self.home, sitecustomize.parent):
            path.mkdir()
        sitecustomize.write_text(GUARD)
        self.env = {
            **os.environ,
            "PYTHONPATH": str(sitecustomize.parent),
            "EDGEC_NETWORK_LOG": str(self.log),
            "EDGEC_CACHE_DIR": str(folder / "cache"),
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
        }
        self.env.pop("ORT_DISABLE_TELEMETRY", None)  # set in this process by importing edgec: the CLI must set it
        self.unshare = ["unshare", "-n"] if _works(["unshare", "-n", "true"]) else []
        self.strace = _works(["strace", *TRACE, "-o", os.devnull, "true"])
        for tool, works in (("unshare -n", self.unshare), ("strace", self.strace)):
            if not works and os.environ.get("CI") == "true":  # CI installs both (.ci/run): a missing one is a failure
                raise AssertionError(f"{tool} does not work here: the offline proof cannot hold without it")
            if not works:
                warnings.warn(f"{tool} is not available here: the offline test runs without that guard", stacklevel=2)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        trace = ["strace", *TRACE, "-o", str(self.trace)] if self.strace else []
        command = [*self.unshare, *trace, sys.executable, *args]
        return subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=600)

    def python_attempts(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def native_attempts(self) -> list[str]:
        """System calls that addressed an IPv4/IPv6 peer (local AF_UNIX sockets are not the network)."""
        lines = self.trace.read_text().splitlines() if self.trace.exists() else []
        return [line for line in lines if "sa_family=AF_INET" in line]

    def clear(self) -> None:
        for path in (self.log, self.trace):
            path.unlink(missing_ok=True)


def _works(command: list[str]) -> bool:
    """Whether a guard can run on this machine (unshare -n needs root or user namespaces; strace needs ptrace)."""
    if shutil.which(command[0]) is None:
        return False
    return subprocess.run(command, capture_output=True).returncode == 0
