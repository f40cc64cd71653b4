"""Whose kernels an artifact's numbers come from: the build host's, exact QDQ math, or the target core emulated.

An int8 ONNX artifact gives different numbers on different CPUs: on x86 without VNNI, ONNX Runtime's U8S8 path
saturates 16-bit pair sums (the rpi4 demo: 15.5 dB SQNR there, 39.4 dB on ONNX Runtime's aarch64 kernels).
So the numbers that judge an artifact come from the kernels closest to the target's:

- `host`: the build machine's runtime, when the host's int8 kernel family is the target's (host-x86 on its
  own host), and for LiteRT, whose XNNPACK int8 arithmetic is the same on x86 and Arm (37.2 dB on both);
- `emulated`: the target's own aarch64 runtime build under qemu-user emulating the target core, when the
  emulator is set up (`python -m edgec.compiler.emulator setup`) and allowed; for an AVX2-only x86 target
  built on a VNNI host, this host's ONNX Runtime under qemu-user presenting an AVX2-only CPU (emulator/x86.py);
- `exact`: otherwise, ONNX Runtime with graph optimizations off, which runs each QuantizeLinear and
  DequantizeLinear as written around float compute: the QDQ model's arithmetic as a non-saturating integer
  kernel (Arm, VNNI) computes it, to a rounding step (39.2 dB on the demo, 39.3 dB emulated).

Searches use `host` or `exact` (they run hundreds of trials); the final validation prefers `emulated`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...runtimes.cpu_features import host_cpu
from ..emulator.x86 import qemu_x86, x86_family
from ..errors import ToolchainError
from .evaluate import Evaluation, RunResult, run_model

if TYPE_CHECKING:
    from ...runtimes.layout import IoLayout
    from ...targets.profile import TargetProfile
    from ..data import Dataset
    from ..progress import Progress

EXACT_RUNTIME = "onnxruntime-exact"
EMULATION_SWITCH = "EDGEC_EMULATION"  # "off" keeps every run on this host (e.g. a quick test session)
EMULATED_RUNTIMES = ("onnxruntime", "litert")
# host and target numbers differ beyond noise: the noise power doubled, or one sample in a hundred flipped
DIVERGENCE_DB = 3.0
DIVERGENCE_AGREEMENT = 0.01


@dataclass(frozen=True)
class KernelRoute:
    """How one artifact's numbers are produced, and why that stands for the target."""

    source: str  # host | exact | emulated
    runtime: str  # the runner's name (runtimes.RUNNERS), or the runtime emulated
    core: str = ""  # the emulated core
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        host = host_cpu()
        return {
            "source": self.source,
            "runtime": self.runtime,
            "core": self.core or None,
            "host_cpu": host.model,
            "host_isa": host.family,
            "why": self.why,
        }


# An emulated run's cost is about its MACs: the demo (2.4 M MACs a sample) ran 360 samples at ~0.2 GMAC/s under
# qemu here. 12 GMAC is about a minute; a 1.5 GMAC/sample recognizer would otherwise spend 25 minutes on 200.
EMULATED_MACS_BUDGET = 12e9
EMULATED_MIN_SAMPLES = 16


def emulated_samples(macs_per_sample: int, available: int) -> int:
    """How many evaluation samples (the first ones, so a stream stays in order) an emulated run gets: all that
    fit the MAC budget, never fewer than EMULATED_MIN_SAMPLES. The host's own numbers still cover every sample."""
    if macs_per_sample <= 0:
        return available
    return min(available, max(EMULATED_MIN_SAMPLES, int(EMULATED_MACS_BUDGET // macs_per_sample)))


def same_kernels(profile: TargetProfile) -> bool:
    """True when this host runs the target's int8 kernel family, so its numbers are the device's."""
    return host_cpu().family == profile.isa_family


def search_route(profile: TargetProfile, runtime: str, precision: str) -> KernelRoute:
    """The route for the many runs of a search: this host, with QDQ math made exact where its int8 kernels
    are not the target's."""
    if runtime != "onnxruntime" or precision != "int8":
        return KernelRoute("host", runtime, why=f"{runtime} {precision}: same arithmetic on every CPU family")
    if same_kernels(profile):
        return KernelRoute("host", runtime, why=f"this host's int8 kernels are the target's ({profile.isa_family})")
    return KernelRoute(
        "exact",
        EXACT_RUNTIME,
        why=f"this host ({host_cpu().family}) runs other int8 kernels than {profile.id} ({profile.isa_family}); "
        "the QDQ arithmetic is computed exactly instead",
    )


def final_route(profile: TargetProfile, runtime: str, precision: str, emulate: bool | None) -> KernelRoute:
    """The route for an artifact's validation: the emulated target core where that is possible and allowed
    (`emulate` None: when the emulator is set up and EDGEC_EMULATION is not "off"), else the search's."""
    if profile.cpu.arch == "aarch64" and runtime in EMULATED_RUNTIMES and _emulation_wanted(emulate):
        why = f"{runtime}'s aarch64 build on an emulated {profile.cpu.core} (qemu-user): the target's own kernels"
        return KernelRoute("emulated", runtime, profile.cpu.core, why)
    family = profile.isa_family
    x86_emulated = runtime == "onnxruntime" and precision == "int8" and x86_family(family)
    if x86_emulated and not same_kernels(profile) and _emulation_wanted(emulate, x86=True):
        why = f"this host's {runtime} with the CPU emulated as {family} (qemu-user): the target's int8 kernels"
        return KernelRoute("emulated", runtime, family, why)
    return search_route(profile, runtime, precision)


def run_route(
    route: KernelRoute,
    model: bytes,
    data: Dataset,
    threads: int,
    progress: Progress,
    label: str,
    layout: IoLayout | None = None,
    scratch: Path | None = None,
) -> RunResult:
    """Run every sample of `data` through `model` along `route`; the outputs come back in the baseline's layout.
    An emulated run is kept in `scratch` by content (run_cache.py) and not repeated."""
    if route.source != "emulated":
        return run_model(route.runtime, model, data, threads, progress, label, layout)
    from ..emulator import run_emulated
    from . import run_cache

    kept = run_cache.entry(scratch, route.core, route.runtime, model, data, threads, layout)
    if (cached := run_cache.load(kept)) is not None:
        return cached

    with progress.counter(f"evaluating {label} on an emulated {route.core}", len(data)) as counter:
        run = run_emulated(route.core, route.runtime, model, dict(data.inputs), threads, layout, states=data.states)
        counter.update(len(data))
    judged = run.outputs[0]  # run_file's judged output, in the baseline's layout
    result = RunResult(judged, f"{route.runtime} (emulated {run.qemu_cpu})", run.runtime_version, threads)
    run_cache.store(kept, result)
    return result


def _emulation_wanted(emulate: bool | None, x86: bool = False) -> bool:
    """Whether to emulate: allowed, and the emulator ready (the arm64 sysroot, or for an x86 family only
    qemu-user itself); --emulate with no emulator is an error, not a quiet fallback."""
    if emulate is False or (emulate is None and os.environ.get(EMULATION_SWITCH, "").lower() == "off"):
        return False
    from ..emulator import find

    if (qemu_x86() if x86 else find()) is not None:
        return True
    if emulate:
        from ..emulator import status

        raise ToolchainError(
            f"--emulate: the emulator is not ready ({status()}); run python -m edgec.compiler.emulator setup"
        )
    return False


def host_kernel_row(here: Evaluation, target: Evaluation) -> dict[str, Any]:
    """The build host's own numbers beside the target's, flagged when they differ beyond noise: a reader of a
    build made on an AVX2 machine sees that its ONNX Runtime saturates where the device does not."""
    host = host_cpu()
    sqnr_gap = abs(here.sqnr_db - target.sqnr_db)
    here_agreement, target_agreement = here.drift["agreement"], target.drift["agreement"]
    agreement_gap = (  # a regression output has no decisions: SQNR alone tells
        abs(here_agreement - target_agreement) if here_agreement is not None and target_agreement is not None else 0.0
    )
    diverges = bool(sqnr_gap > DIVERGENCE_DB or agreement_gap >= DIVERGENCE_AGREEMENT)
    return {
        "cpu": host.model,
        "isa": host.family,
        "runtime": f"{here.runtime} {here.runtime_version}",
        "accuracy": here.accuracy,
        "accuracy_drop_points": here.accuracy_drop_points,
        "agreement": here.drift["agreement"],
        "sqnr_db": here.drift["sqnr_db"],
        "diverges": diverges,
        "note": f"host kernels differ from the device's ({host.family} host)" if diverges else "",
    }
