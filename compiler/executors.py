"""Where work runs: local processes (default) or a Ray cluster, behind one interface with two shapes of work.

- `run(runner, jobs, on_result)`: sweep jobs, each a whole compile, results as they arrive. The `JobRunner`
  is handed down by the sweep, which owns the jobs: executors sit below the compile flow and never import it.
- `map(function, shared, items)`: a search's candidates, `function(shared, item)` for each item, results in
  item order; `shared` (the start model, the data) travels once per worker, not once per item.

Both keep failures to their own item: a job or candidate whose process dies (a crash, an OOM kill, a Ray
worker lost) becomes a failed result (`Lost` for `map`) with the reason, and the others go on. Neither
changes a result: the same function runs on the same inputs wherever it runs. Ray is an optional extra
(`pip install 'edgec[ray]'`), imported only here.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import ConfigError, RemoteError, require

Result = dict[str, Any]
OnResult = Callable[[Result], None]
RAY_DEFAULT_WIDTH = 16  # candidates a search keeps in flight on Ray unless --jobs says otherwise


@dataclass(frozen=True)
class Lost:
    """An item whose worker died under it: the reason, in place of its result."""

    reason: str


@dataclass(frozen=True)
class JobRunner:
    """How to run one kind of job, given to `Executor.run` by the layer that knows what a job is (the sweep).

    Passed in rather than imported: a job is a whole compile, and the compile flow uses these executors for
    its search, so an executor that imported the job would close an import cycle through the compile flow.
    """

    function: Callable[[dict[str, Any]], Result]  # the job in this process (what a Ray task runs)
    module: str  # `python -m <module> < job.json > result.json`: the job in a fresh process (local executor)
    lost: Callable[[dict[str, Any], str], Result]  # the failed result of a job whose process died, with the reason


class Executor(Protocol):
    name: str
    width: int  # how many items a caller should hand over at once to keep every worker busy

    def run(self, runner: JobRunner, jobs: list[dict[str, Any]], on_result: OnResult) -> None: ...

    def map(self, function: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any]) -> list[Any]: ...


class LocalExecutor:
    """`jobs` processes at a time. Sweep jobs get a fresh Python process each (a crash takes only its own
    job); candidates share a pool of spawned workers, which pays the imports once per worker."""

    name = "local"

    def __init__(self, jobs: int = 1):
        if jobs < 1:
            raise ConfigError(f"--jobs {jobs}: must be at least 1")
        self.jobs = self.width = jobs

    def run(self, runner: JobRunner, jobs: list[dict[str, Any]], on_result: OnResult) -> None:
        with ThreadPoolExecutor(self.jobs) as pool:
            futures = [pool.submit(_in_process, runner, job) for job in jobs]
            for future in as_completed(futures):
                on_result(future.result())

    def map(self, function: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any]) -> list[Any]:
        results = _pool_map(function, shared, list(items), self.jobs)
        for index, result in enumerate(results):  # a worker died: rerun each item it may have taken, alone,
            if isinstance(result, Lost):  # so only the item that kills its worker is lost
                results[index] = _pool_map(function, shared, [items[index]], 1)[0]
        return results


def _pool_map(function: Callable[[Any, Any], Any], shared: Any, items: list[Any], workers: int) -> list[Any]:
    context = multiprocessing.get_context("spawn")  # no forked copies of the parent's threads and runtimes
    pool = ProcessPoolExecutor(min(workers, len(items)), context, initializer=_install, initargs=(shared,))
    with pool:
        futures = [pool.submit(_call_installed, function, item) for item in items]
        results: list[Any] = []
        for future in futures:
            try:
                results.append(future.result())
            except BrokenProcessPool as exc:
                results.append(Lost(f"the worker process died: {exc}"))
    return results


_installed: Any = None  # the shared part of a map, set once in each pool worker


def _install(shared: Any) -> None:
    global _installed
    _installed = shared


def _call_installed(function: Callable[[Any, Any], Any], item: Any) -> Any:
    return function(_installed, item)


def _in_process(runner: JobRunner, job: dict[str, Any]) -> Result:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run(
        [sys.executable, "-m", runner.module],
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
        return runner.lost(job, f"the job's process ended with exit {done.returncode} without a result: {tail}")


class RayExecutor:
    """Each job or candidate is a Ray task (no retries: an item that killed its worker would kill the next
    one too)."""

    name = "ray"

    def __init__(self, address: str, jobs: int | None = None):
        self.address = address
        self.width = jobs or RAY_DEFAULT_WIDTH

    def run(self, runner: JobRunner, jobs: list[dict[str, Any]], on_result: OnResult) -> None:
        with _joined(self.address) as ray:
            task = ray.remote(max_retries=0, num_cpus=1)(runner.function)
            pending = {task.remote(job): job for job in jobs}
            while pending:
                (ready,), _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(ready)
                try:
                    on_result(ray.get(ready))
                except ray.exceptions.RayError as exc:
                    on_result(runner.lost(job, _ray_lost(exc)))

    def map(self, function: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any]) -> list[Any]:
        with _joined(self.address) as ray:
            task = ray.remote(max_retries=0, num_cpus=1)(function)
            shared_ref = ray.put(shared)
            futures = [task.remote(shared_ref, item) for item in items]
            results: list[Any] = []
            for future in futures:
                try:
                    results.append(ray.get(future))
                except ray.exceptions.RayError as exc:
                    results.append(Lost(_ray_lost(exc)))
            return results


@contextmanager
def _joined(address: str) -> Iterator[Any]:
    """The cluster, held only while a compile or sweep hands out work."""
    ray = require("ray", extra="ray")
    try:
        ray.init(address=address, logging_level="WARNING", log_to_driver=False)
    except Exception as exc:
        raise RemoteError(f"--address {address}: cannot join the Ray cluster ({exc})") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _ray_lost(exc: Exception) -> str:
    """The worker or its node died under the item."""
    return f"Ray lost the job: {type(exc).__name__}: {str(exc).splitlines()[0]}"


def make_executor(name: str, jobs: int | None, address: str | None) -> Executor:
    if name == "local":
        return LocalExecutor(jobs or 1)
    if name == "ray":
        return RayExecutor(address or "auto", jobs)
    raise ConfigError(f"--executor {name}: unknown; use local or ray")
