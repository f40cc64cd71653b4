"""The tensor arena TFLite Micro really needs, held against the cost model's estimate.

A microcontroller artifact validated in TFLite Micro (runtime "tflm") is loaded once more in its interpreter:
the arena it used (RecordingMicroAllocator's total: the planned activations and scratch, "head", plus the
persistent structures, "tail"; MicroInterpreter::arena_used_bytes() on the device) is recorded beside the
estimate (`peak_activation_bytes`: the liveness peak with the target's kernel scratch, what the RAM budget
holds). The smallest arena_size that still allocates is not probed: TFLite Micro's host build crashes
(SIGSEGV) instead of failing on some too-small arenas, e.g. for a 64x10000 fully-connected layer.

Two ways the host's number differs from the board's, both recorded so nobody reads the ratio as exact: the
host build has 64-bit pointers, so the persistent structures are larger than on a 32-bit MCU; and it links the
reference kernels, which ask for no CMSIS-NN/ESP-NN scratch the device's kernels may need.
"""

from __future__ import annotations

from typing import Any

from ...runtimes.tflm_runner import TflmRunner
from ..kinds import Model
from ..quiet import captured_native_output


def with_measured_arena(cost: dict[str, Any], runtime: str, model: Model) -> dict[str, Any]:
    """`cost` (a CostReport.to_dict()) with the measured arena added when the artifact runs in TFLite Micro."""
    if runtime != "tflm":
        return cost
    with captured_native_output():
        runner = TflmRunner(model.artifact_bytes())
    used, estimate = runner.arena_used_bytes, cost["peak_activation_bytes"]
    return {
        **cost,
        "arena_measured_bytes": used,
        "arena_measured_ratio": round(used / estimate, 3) if estimate else None,
        "arena_measured": {
            "runtime": runner.version,
            "used_bytes": used,
            "planned_bytes": runner.arena_planned_bytes,
            "persistent_bytes": runner.arena_persistent_bytes,
            "estimate_bytes": estimate,
            "planned_ratio": round(runner.arena_planned_bytes / estimate, 3) if estimate else None,
            "host_build": "64-bit pointers (persistent part larger than on a 32-bit MCU), reference kernels "
            "(no CMSIS-NN/ESP-NN scratch)",
        },
    }
