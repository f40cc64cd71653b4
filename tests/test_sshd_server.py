"""The throwaway sshd the `edgec run --device ssh://...` tests log in to: our key works, any other key is refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sshd_server import start_sshd


def test_sshd_accepts_only_the_generated_key(tmp_path: Path) -> None:
    with start_sshd(tmp_path / "sshd") as server:
        assert server.url == f"ssh://{server.user}@127.0.0.1:{server.port}"
        target = f"{server.user}@127.0.0.1"
        ok = subprocess.run(
            ["ssh", *server.ssh_options(), "-p", str(server.port), target, "echo", "hello"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.strip() == "hello"

        # Same server, same pinned host key, but a key it has never seen: the login must be refused, which proves
        # the server checks our authorized_keys rather than letting anyone in.
        stranger = tmp_path / "stranger_ed25519"
        subprocess.run(["ssh-keygen", "-t", "ed25519", "-N", "", "-q", "-f", str(stranger)], check=True)
        options = server.ssh_options()
        options[options.index(str(server.identity))] = str(stranger)
        refused = subprocess.run(
            ["ssh", *options, "-p", str(server.port), target, "echo", "hello"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert refused.returncode != 0
        assert "hello" not in refused.stdout
        assert "Permission denied" in refused.stderr, refused.stderr
