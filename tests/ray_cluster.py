"""A real Ray cluster for the tests: a head and two worker nodes, separate processes, on loopback only.

Everything runs in a network namespace of its own (`unshare -n`, then `nsenter` into it): Ray binds to the
machine's outside address even when told 127.0.0.1, and probes cloud metadata services at start-up; inside
a namespace with only `lo`, it falls back to 127.0.0.1 and nothing can leave the machine. The head has no
CPUs, so every job runs on a worker node; worker node 1 is marked with a `node1` resource so a test can find
and kill what runs there. The driver (`edgec sweep`) must run in the namespace too: `cluster.command(...)`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")
PORT = 6379
COMMON = [
    "--node-ip-address=127.0.0.1",
    "--disable-usage-stats",
    "--object-store-memory=100000000",
    "--include-log-monitor=false",
]


@dataclass
class RayCluster:
    holder: subprocess.Popen
    temp_dir: str
    netns: str  # the namespace's identity, read once: the holder may be gone (a ^C reaches it too) when we stop

    @property
    def address(self) -> str:
        return f"127.0.0.1:{PORT}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(Path(__file__).parent)}

    def command(self, *args: str) -> list[str]:
        """`args` run inside the cluster's network namespace."""
        return ["nsenter", "-t", str(self.holder.pid), "-n", *args]

    def pids(self) -> list[int]:
        """Every process in the cluster's namespace but the holder."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != self.holder.pid:
                try:
                    if os.readlink(entry / "ns" / "net") == self.netns:
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found

    def task_process_on_node1(self, title: str, timeout: float = 120) -> int:
        """The pid of a worker process of node 1 that is running the task `title` (e.g. ray::run_job)."""
        node1 = _raylet_of(self.pids(), "node1")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid in self.pids():
                if _cmdline(pid).startswith(title) and _parent(pid) == node1:
                    return pid
            time.sleep(0.2)
        raise TimeoutError(f"no {title} on node 1 within {timeout} s")

    def stop(self) -> None:
        """Kill every process left in the namespace, on every path: after the tests, or after a start that
        failed or was interrupted half way (the daemons started so far outlive the holder otherwise)."""
        try:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                for pid in self.pids():
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        continue
                if self.pids():
                    time.sleep(1.0)
        finally:
            self.holder.kill()
            self.holder.wait()
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def start_cluster() -> RayCluster:
    holder = subprocess.Popen(["unshare", "-n", "sleep", "infinity"])
    netns = _namespace_of(holder)
    cluster = RayCluster(holder, tempfile.mkdtemp(prefix="ray", dir="/tmp"), netns)  # short: socket paths <= 108 B
    try:
        _run(cluster, "ip", "link", "set", "lo", "up")
        head = ["--head", f"--port={PORT}", "--num-cpus=0", "--include-dashboard=false"]
        _run(cluster, RAY, "start", *head, f"--temp-dir={cluster.temp_dir}", *COMMON)
        for resources in ('{"node1": 1}', '{"node2": 1}'):
            _run(
                cluster,
                RAY,
                "start",
                f"--address={cluster.address}",
                "--num-cpus=1",
                f"--resources={resources}",
                *COMMON,
            )
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _namespace_of(holder: subprocess.Popen, timeout: float = 10) -> str:
    """The holder's network namespace once `unshare` has moved it there (it differs from ours)."""
    ours = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = os.readlink(f"/proc/{holder.pid}/ns/net")
        except OSError:
            found = ours
        if found != ours:
            return found
        if holder.poll() is not None:
            raise RuntimeError(f"unshare -n exited with {holder.returncode}: no network namespace for the cluster")
        time.sleep(0.05)
    holder.kill()
    raise RuntimeError("unshare -n did not enter a network namespace within 10 s")


def _run(cluster: RayCluster, *args: str) -> None:
    done = subprocess.run(cluster.command(*args), env=cluster.env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed: {done.stderr[-1000:]}")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _raylet_of(pids: list[int], resource: str) -> int:
    (raylet,) = [p for p in pids if "/raylet " in _cmdline(p) and f"--static_resource_list={resource}," in _cmdline(p)]
    return raylet
