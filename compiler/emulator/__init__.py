"""Run artifacts in the target's own aarch64 runtime builds under qemu-user emulation of the target core.

`python -m edgec.compiler.emulator setup` builds the sysroot once (needs root, debootstrap, qemu-user-static
and the network); afterwards `find()` and `run_emulated()` work offline.
"""

from .run import EmulatedRun, run_emulated
from .sysroot import Emulator, default_root, find, setup, status

__all__ = ["EmulatedRun", "Emulator", "default_root", "find", "run_emulated", "setup", "status"]
