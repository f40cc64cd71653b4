"""A throwaway OpenSSH server on 127.0.0.1 for tests of `edgec run --device ssh://...`.

`edgec run` shells out to the system `ssh` client, so the honest test target is a real `sshd`, not a mock: it
exercises the exact argv, quoting and exit-status handling the command relies on. The server lives entirely in a
test folder (its own host key, client key, authorized_keys, known_hosts, config, pid file and log), listens only on
127.0.0.1 at a free port, and never touches ~/.ssh or /etc/ssh, so tests neither depend on nor disturb the machine's
own ssh setup. Debian's `openssh-server` must be installed (CI installs it); a missing `sshd` is an error, not a
skip, so a broken CI image cannot silently turn the ssh tests off.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
HOST = "127.0.0.1"  # loopback only: the test server must never be reachable from another machine
STARTUP_TIMEOUT_S = 15.0
# sshd refuses to start as root without its privilege-separation directory; Debian creates it from the service
# unit (RuntimeDirectory=sshd), which never runs here because we start sshd by hand.
PRIVSEP_DIR = Path("/run/sshd")


@dataclass(frozen=True)
class SshServer:
    """Where the test sshd listens and what a client needs to log in to it without prompts."""

    user: str
    port: int
    identity: Path
    known_hosts: Path

    @property
    def url(self) -> str:
        """The `--device` form `edgec run` takes."""
        return f"ssh://{self.user}@{HOST}:{self.port}"

    def ssh_options(self) -> list[str]:
        """Client arguments that pin this server's key and our key, and fail instead of ever prompting.

        StrictHostKeyChecking=yes with our own known_hosts file proves the client really talks to this sshd;
        BatchMode=yes turns any would-be password/passphrase/host-key prompt into an error (a hung test otherwise);
        IdentitiesOnly=yes stops an ssh-agent or ~/.ssh keys from being offered, so only `identity` can log in.
        """
        return [
            "-i",
            str(self.identity),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
        ]


def _free_port() -> int:
    """A port the kernel says is free on 127.0.0.1 right now (sshd binds it a moment later; the race is benign)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> None:
    """An unencrypted ed25519 key pair at `path` and `path`.pub (fast to generate; no passphrase to prompt for)."""
    subprocess.run(
        ["ssh-keygen", "-t", "ed25519", "-N", "", "-q", "-C", path.name, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def _config(folder: Path, port: int, host_key: Path, authorized_keys: Path) -> str:
    """An sshd_config that only allows key login from our authorized_keys, with every path inside `folder`."""
    return "\n".join(
        [
            f"ListenAddress {HOST}",
            f"Port {port}",
            f"HostKey {host_key}",
            f"AuthorizedKeysFile {authorized_keys}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            # CI runs as root; key-only root login is what the tests do.
            "PermitRootLogin prohibit-password",
            # PAM would need /etc/pam.d/sshd and root; without it sshd also runs as an ordinary user.
            "UsePAM no",
            # The key files live under /tmp (pytest's tmp_path), whose permissions StrictModes would reject.
            "StrictModes no",
            f"PidFile {folder / 'sshd.pid'}",
            # Keep command output clean and avoid touching the host's login records.
            "PrintMotd no",
            "PrintLastLog no",
            "",
        ]
    )


def _ssh_true(server: SshServer) -> subprocess.CompletedProcess[str]:
    """One real login running `true`: the only reliable sign that sshd is up *and* accepts our key."""
    target = f"{server.user}@{HOST}"
    return subprocess.run(
        ["ssh", *server.ssh_options(), "-o", "ConnectTimeout=2", "-p", str(server.port), target, "true"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


@contextlib.contextmanager
def start_sshd(folder: Path) -> Iterator[SshServer]:
    """Run an sshd for the current user on 127.0.0.1 with all its state in `folder`; stop it on exit.

    Yields once a real `ssh ... true` login has succeeded, so callers can use the server immediately. Raises
    RuntimeError (with the sshd log) if `sshd` is not installed, exits early, or does not accept a login within
    STARTUP_TIMEOUT_S.
    """
    if not SSHD.is_file():
        raise RuntimeError(f"{SSHD} not found: install Debian's openssh-server (apt-get install -y openssh-server)")
    if os.geteuid() == 0:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)

    folder.mkdir(parents=True, exist_ok=True)
    host_key = folder / "ssh_host_ed25519_key"
    identity = folder / "id_ed25519"
    _keygen(host_key)
    _keygen(identity)
    authorized_keys = folder / "authorized_keys"
    authorized_keys.write_text(identity.with_name(identity.name + ".pub").read_text())
    authorized_keys.chmod(0o600)

    port = _free_port()
    known_hosts = folder / "known_hosts"
    host_pub = host_key.with_name(host_key.name + ".pub").read_text().split()
    known_hosts.write_text(f"[{HOST}]:{port} {host_pub[0]} {host_pub[1]}\n")

    config = folder / "sshd_config"
    config.write_text(_config(folder, port, host_key, authorized_keys))
    log = folder / "sshd.log"
    server = SshServer(user=getpass.getuser(), port=port, identity=identity, known_hosts=known_hosts)

    # sshd insists on an absolute path to itself (it re-executes itself for each connection).
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last = ""
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sshd exited with status {proc.returncode} on startup; log:\n{log.read_text()}")
            try:
                result = _ssh_true(server)
            except subprocess.TimeoutExpired:
                last = "ssh login timed out"
            else:
                if result.returncode == 0:
                    break
                last = f"ssh exited {result.returncode}: {result.stderr.strip()}"
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"sshd on {HOST}:{port} did not accept a login within {STARTUP_TIMEOUT_S:.0f} s ({last}); "
                    f"log:\n{log.read_text()}"
                )
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
