"""Where sweep jobs run: local processes (default) or a Ray cluster, behind one `run(jobs, on_result)`.

Both run `job.run_job`, so a result does not depend on the executor. Failure isolation is the executor's
job: a job whose process dies (a crash, an OOM kill, a Ray worker lost) becomes a failed result with the
reason, and the others go on. Ray is an optional extra (`pip install 'edgec[ray]'`), imported only here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Protocol

from ..errors import ConfigError, RemoteError, require

Result = dict[str, Any]
OnResult = Callable[[Result], None]


class Executor(Protocol):
    name: str

    def run(self, jobs: list[dict[str, Any]], on_result: OnResult) -> None: ...


class LocalExecutor:
    """`jobs` compiles at a time, each in its own Python process: a crash or kill takes only its own job."""

    name = "local"

    def __init__(self, jobs: int = 1):
        if jobs < 1:
            raise ConfigError(f"--jobs {jobs}: must be at least 1")
        self.jobs = jobs

    def run(self, jobs: list[dict[str, Any]], on_result: OnResult) -> None:
        with ThreadPoolExecutor(self.jobs) as pool:
            futures = [pool.submit(_in_process, job) for job in jobs]
            for future in as_completed(futures):
                on_result(future.result())


def _in_process(job: dict[str, Any]) -> Result:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run(
        [sys.executable, "-m", "edgec.compiler.sweep.job"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    try:
        return json.loads(done.stdout)
    except ValueError:
        tail = " ".join(done.stderr.split()[-40:])
        return _lost(job, f"the job's process ended with exit {done.returncode} without a result: {tail}")


class RayExecutor:
    """Each job is a Ray task (no retries: a job that killed its worker would kill the next one too)."""

    name = "ray"

    def __init__(self, address: str):
        self.address = address

    def run(self, jobs: list[dict[str, Any]], on_result: OnResult) -> None:
        ray = require("ray", extra="ray")
        from .job import run_job

        try:
            ray.init(address=self.address, logging_level="WARNING", log_to_driver=False)
        except Exception as exc:
            raise RemoteError(f"--address {self.address}: cannot join the Ray cluster ({exc})") from None
        try:
            task = ray.remote(max_retries=0, num_cpus=1)(run_job)
            pending = {task.remote(job): job for job in jobs}
            while pending:
                (ready,), _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(ready)
                try:
                    on_result(ray.get(ready))
                except ray.exceptions.RayError as exc:  # the worker or its node died under the job
                    on_result(_lost(job, f"Ray lost the job: {type(exc).__name__}: {str(exc).splitlines()[0]}"))
        finally:
            ray.shutdown()


def _lost(job: dict[str, Any], reason: str) -> Result:
    from .job import result_head

    return {**result_head(job), "status": "failed", "error": reason}


def make_executor(name: str, jobs: int, address: str | None) -> Executor:
    if name == "local":
        return LocalExecutor(jobs)
    if name == "ray":
        return RayExecutor(address or "auto")
    raise ConfigError(f"--executor {name}: unknown; use local or ray")
