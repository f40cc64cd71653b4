"""Host latency of an artifact: warm batch-1 inferences timed in the runtime the device uses.

Host numbers rank artifacts against each other and a build against its baseline on the same machine; what the
device does is the harness's to measure (runtimes/). The measurement is bounded in time so a large model does
not hold a compile up, and it keeps its samples so a report can show the distribution, not only a median.
"""

from __future__ import annotations

from typing import Any

from ...runtimes import open_runner
from ...runtimes.cpu_features import host_cpu
from ...runtimes.device_env import cpu_name
from ...runtimes.layout import artifact_inputs
from ...runtimes.timing import bounded_runs, latency_record, time_runs
from ..data import Dataset
from ..kinds import Model
from ..quiet import captured_native_output

WARMUP_RUNS = 5
MIN_RUNS = 20
MAX_RUNS = 200
MAX_SECONDS = 1.0


def host_latency(model: Model, runtime: str, data: Dataset, threads: int, max_runs: int = MAX_RUNS) -> dict[str, Any]:
    """Latency statistics (ms) of batch-1 runs after a warm-up: at least MIN_RUNS, then until MAX_SECONDS or
    `max_runs`, whichever comes first."""
    with captured_native_output():
        runner = open_runner(runtime, model.artifact_bytes(), threads)
    one = {name: array[:1] for name, array in data.inputs.items()}
    feeds = artifact_inputs(one, getattr(model, "layout", None))
    time_runs(runner, feeds, WARMUP_RUNS)
    samples = bounded_runs(runner, feeds, MIN_RUNS, MAX_SECONDS, max_runs=max_runs)
    return {
        "where": "host",
        "cpu": cpu_name(),
        "isa": host_cpu().family,  # a host figure: the device's own comes from the harness
        "runtime": f"{runner.runtime} {runner.version}",
        "threads": runner.threads,
        "batch": 1,
        **latency_record(samples),
    }
