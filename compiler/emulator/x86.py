"""An older x86 CPU, emulated: the build host's own Python and ONNX Runtime under qemu-user with a CPU model
that lacks the host's int8 instructions.

ONNX Runtime's x86 int8 kernels dispatch on CPUID. On a VNNI host they add u8*s8 products in 32-bit lanes; an
AVX2-only CPU adds pairs of them in saturating 16-bit lanes (vpmaddubsw). qemu's TCG models AVX2 but not
AVX-512, so `qemu-x86_64 -cpu Haswell` runs the x86 wheels the device installs with the device's dispatch.
Measured on a 2-vCPU AMD EPYC with AVX-512 VNNI: the demo's x86-vnni artifact gives 39.3 dB natively and
15.5 dB emulated as Haswell, the figure the issue measured on a real AVX2-only EPYC; the x86-avx2 artifact
36.5 dB on both. The reverse (a VNNI target on an AVX2 host) cannot be emulated: TCG has no AVX-512.
"""

from __future__ import annotations

import shutil
import sys

QEMU_X86 = ("qemu-x86_64-static", "qemu-x86_64")
# int8 kernel family (runtimes/cpu_features.isa_family) -> the qemu CPU model whose CPUID selects its kernels
# (Haswell without TSX; the features TCG cannot model switched off, so qemu warns about none of them)
X86_MODELS = {"x86-avx2": "Haswell-noTSX,-pcid,-x2apic,-tsc-deadline,-invpcid"}


def x86_family(core: str) -> bool:
    """True for a name this module emulates (an x86 int8 kernel family), False for an Arm core."""
    return core in X86_MODELS


def qemu_x86() -> str | None:
    """The qemu-user binary for x86-64, or None when qemu-user-static is not installed."""
    for name in QEMU_X86:
        if found := shutil.which(name):
            return found
    return None


def x86_prefix(family: str) -> list[str]:
    """The command up to the script: this Python, with its own packages, on the family's emulated CPU."""
    qemu = qemu_x86()
    if qemu is None:
        missing = "qemu-x86_64 is not on PATH (apt-get install qemu-user-static)"
        raise FileNotFoundError(f"cannot emulate {family}: {missing}")
    return [qemu, "-cpu", X86_MODELS[family], sys.executable, "-B", "-s"]
