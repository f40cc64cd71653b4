"""`edgec run BUNDLE --device ssh://user@host[:port]`: copy the bundle, run the harness there, fetch results.

Only the system's OpenSSH client is used (the user's keys, agent and ~/.ssh/config work as they do for `ssh`),
in batch mode so a missing key fails at once instead of waiting at a password prompt. Files travel over the
same connection (`cat` on the remote side), so a device needs only sshd and Python; with `--setup-venv` the
harness's requirements (numpy and the bundle's runtimes, at the host's versions) are installed into a venv on
the device first. Each failure is named: the host that does not answer, the Python that is missing, the
runtime that does not import.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runtimes.bundle import Bundle, BundleError
from .errors import InputError, RemoteError

SSH_URL = re.compile(r"^ssh://(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+)(?::(?P<port>\d+))?/?$")
MIN_PYTHON = (3, 9)
SSH_UNREACHABLE = 255  # ssh's own exit status for connection and authentication failures


@dataclass
class Device:
    url: str
    host: str
    user: str | None = None
    port: int | None = None
    identity: Path | None = None
    known_hosts: Path | None = None
    options: list[str] = field(default_factory=list)
    connect_timeout: int = 10

    @classmethod
    def parse(cls, url: str, **settings: Any) -> Device:
        match = SSH_URL.match(url)
        if not match:
            raise InputError(f"--device {url}: expected ssh://[user@]host[:port], e.g. ssh://pi@raspberrypi.local")
        port = int(match["port"]) if match["port"] else None
        return cls(url, match["host"], match["user"], port, **settings)

    def ssh(
        self, command: str, stdin: bytes | None = None, timeout: float | None = None
    ) -> subprocess.CompletedProcess:
        argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}"]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.identity:
            argv += ["-i", str(self.identity), "-o", "IdentitiesOnly=yes"]
        if self.known_hosts:
            argv += ["-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
        for option in self.options:
            argv += ["-o", option]
        destination = f"{self.user}@{self.host}" if self.user else self.host
        try:
            done = subprocess.run([*argv, destination, command], input=stdin, capture_output=True, timeout=timeout)
        except FileNotFoundError:
            raise RemoteError("no `ssh` client on this machine; install OpenSSH (openssh-client)") from None
        except subprocess.TimeoutExpired:
            raise RemoteError(f"{self.url}: no answer within {timeout:.0f} s") from None
        if done.returncode == SSH_UNREACHABLE:
            raise RemoteError(
                f"{self.url}: cannot connect ({_last_line(done.stderr)}); check the host, port and key: "
                f"`ssh {'-p ' + str(self.port) + ' ' if self.port else ''}{destination}` must log in without a password"
            )
        return done


@dataclass
class RemoteRun:
    results: dict[str, Any]
    harness_exit: int
    log: str


def run_on_device(
    device: Device,
    bundle_path: Path,
    harness_args: list[str],
    python: str = "python3",
    setup_venv: bool = False,
    workdir: str = ".edgec",
) -> RemoteRun:
    try:
        bundle = Bundle(bundle_path)
    except BundleError as exc:
        raise InputError(str(exc)) from None
    run_dir = f"{workdir}/runs/{bundle.sha256()[:16]}"
    python = _check_python(device, python)
    if setup_venv:
        python = _setup_venv(device, python, f"{workdir}/venv", bundle.index["requirements"])
    _check_imports(device, python, setup_venv)
    remote_bundle = f"{run_dir}/model.bundle"
    _checked(device, f"mkdir -p {shlex.quote(run_dir)} && cat > {shlex.quote(remote_bundle)}", "copy the bundle",
             stdin=bundle_path.read_bytes())  # fmt: skip
    command = f"cd {shlex.quote(run_dir)} && {shlex.quote(_from(run_dir, python))} model.bundle --out results.json "
    command += " ".join(shlex.quote(a) for a in harness_args)
    done = device.ssh(command)
    log = done.stderr.decode(errors="replace")
    if done.returncode not in (0, 1):  # 1: some artifact failed, the rest were measured
        raise RemoteError(f"{device.url}: the harness failed (exit {done.returncode}): {_last_line(done.stderr)}")
    fetched = _checked(device, f"cat {shlex.quote(run_dir)}/results.json", "fetch results.json")
    return RemoteRun(json.loads(fetched.stdout), done.returncode, log)


def _check_python(device: Device, python: str) -> str:
    probe = f"command -v {shlex.quote(python)} >/dev/null 2>&1 || exit 42; {shlex.quote(python)} -c " + shlex.quote(
        "import sys; print('%d.%d' % sys.version_info[:2])"
    )
    done = device.ssh(probe)
    if done.returncode == 42:
        raise RemoteError(f"{device.url}: no {python} on the device; install Python 3.9+ or pass --python PATH")
    version = done.stdout.decode().strip()
    if done.returncode or tuple(int(p) for p in version.split(".")) < MIN_PYTHON:
        raise RemoteError(f"{device.url}: {python} is Python {version or '?'}; the harness needs 3.9 or newer")
    return python


def _setup_venv(device: Device, python: str, venv: str, requirements: list[str]) -> str:
    print(f"edgec run: installing {' '.join(requirements)} into {venv} on the device...", file=sys.stderr)
    pins = " ".join(shlex.quote(r) for r in requirements)
    command = f"{shlex.quote(python)} -m venv {shlex.quote(venv)} && {shlex.quote(venv)}/bin/pip install -q {pins}"
    _checked(device, command, f"create the venv {venv}")
    return f"{venv}/bin/python"


def _check_imports(device: Device, python: str, setup_venv: bool) -> None:
    done = device.ssh(f"{shlex.quote(python)} -c 'import numpy'")
    if done.returncode:
        hint = "" if setup_venv else "; pass --setup-venv to install it (and the runtimes) in a venv there"
        raise RemoteError(f"{device.url}: numpy does not import with {python} on the device{hint}")


def _checked(device: Device, command: str, step: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    done = device.ssh(command, stdin=stdin)
    if done.returncode:
        raise RemoteError(f"{device.url}: could not {step} (exit {done.returncode}): {_last_line(done.stderr)}")
    return done


def _from(run_dir: str, python: str) -> str:
    """A relative interpreter path as seen from the run folder (ssh commands start in the home folder)."""
    if "/" not in python or python.startswith(("/", "~")):
        return python
    return "../" * (run_dir.count("/") + 1) + python


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "no message"
