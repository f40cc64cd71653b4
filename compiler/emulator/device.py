"""`edgec run BUNDLE --device emulated:rpi4`: the device-side harness on the target's emulated core.

The bundle runs exactly as on the board (`python x.bundle --out results.json`), in the aarch64 Python of the
emulator's sysroot with the target's own runtime wheels, under qemu-user emulating the profile's core. Its
accuracy rows are the Arm kernels' (what `compile` gates on); its timings are qemu's, not the device's, so the
harness records `environment.emulated` and ingest keeps them out of the latency checks.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from ..errors import ConfigError, ToolchainError
from .run import guest, guest_env
from .x86 import X86_MODELS, x86_family

PREFIX = "emulated:"
EMULATED_ENV = "EDGEC_EMULATED_CORE"  # read by runtimes/device_env.py: the results say they came from an emulator


def emulated_core(device: str) -> str:
    """The core an `emulated:TARGET` stands for: a profile's Arm core, an x86 int8 family (x86-avx2), or a
    core name as given."""
    name = device.removeprefix(PREFIX)
    from ...targets.profile import ProfileError, known_targets, load_profile

    if name in known_targets():
        try:
            profile = load_profile(name)
        except ProfileError as exc:
            raise ConfigError(f"--device {device}: {exc}") from None
        if x86_family(profile.isa_family):
            return profile.isa_family
        core = profile.cpu.core
        if not core.lower().startswith("cortex-"):
            emulable = ", ".join(X86_MODELS)
            raise ConfigError(
                f"--device {device}: {name}'s CPU ({core}, {profile.isa_family}) is neither an Arm core nor an "
                f"x86 family this emulator runs ({emulable})"
            )
        return core.lower()
    return name


def run_bundle(device: str, bundle: Path, harness_args: list[str], out: Path, timeout: float = 1800.0) -> int:
    """Run `bundle`'s harness on the emulated core; returns its exit code (0 pass, 1 a device check failed)."""
    core = emulated_core(device)
    emulated = guest(core)
    with tempfile.TemporaryDirectory(prefix="edgec-emu-run-") as scratch:
        command = [*emulated.prefix, str(bundle.resolve()), "--out", str(out.resolve()), *harness_args]
        env = {
            **guest_env(Path(scratch), emulated.pythonpath()),
            EMULATED_ENV: f"{core} (qemu {emulated.qemu_cpu})",
            "EDGEC_CHILD_PYTHON": json.dumps(emulated.prefix),  # the harness's per-artifact workers, emulated too
        }
        try:
            done = subprocess.run(command, env=env, cwd=scratch, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ToolchainError(f"{bundle} on emulated {core} did not finish within {timeout:.0f} s") from exc
    if done.returncode not in (0, 1) or not out.exists():
        raise ToolchainError(f"{bundle}: the harness failed on emulated {core} (exit {done.returncode}); see above")
    return done.returncode
