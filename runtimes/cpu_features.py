"""The CPU a number was measured on: model, architecture and the instruction-set features int8 kernels choose by.

ONNX Runtime's int8 kernels differ by instruction set: on x86 without VNNI (AVX2 only) its U8S8 path adds
pairs of u8*s8 products in saturating 16-bit lanes (vpmaddubsw) and loses accuracy that a VNNI x86 or an Arm
core does not lose. A figure measured here is therefore labelled with this host's ISA, and the compiler
compares it with the target's family before letting it stand for the device. Standard library only (numpy
is consulted when importable): the device harness records the same facts.
"""

from __future__ import annotations

import importlib
import os
import platform
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

# The flags that decide which int8 kernels run, in the spelling /proc/cpuinfo uses.
X86_INT8_FLAGS = ("sse4_1", "avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8")
ARM_INT8_FLAGS = ("asimd", "asimddp", "i8mm", "sve", "sve2", "fphp")
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
# Profile spellings of Arm features, mapped onto the kernel's (a profile says "dotprod", Linux "asimddp").
ARM_ALIASES = {"neon": "asimd", "dotprod": "asimddp", "fp16": "fphp"}
# numpy's names for the x86 flags its own CPUID probe reports (avx_vnni and amx_int8 it does not probe).
NUMPY_X86_NAMES = {
    "sse4_1": "SSE41",
    "avx2": "AVX2",
    "avx512f": "AVX512F",
    "avx512bw": "AVX512BW",
    "avx512_vnni": "AVX512VNNI",
}


@dataclass(frozen=True)
class CpuFacts:
    """What a runtime's kernel dispatch sees: the architecture and the int8-relevant ISA flags."""

    model: str
    arch: str
    cores: int
    features: tuple[str, ...]

    @property
    def family(self) -> str:
        return isa_family(self.arch, self.features)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "features": list(self.features), "family": self.family}


def isa_family(arch: str, features: tuple[str, ...] | list[str]) -> str:
    """The int8 kernel family: x86-vnni, x86-avx2, x86-sse, aarch64-i8mm, aarch64-dotprod or aarch64.

    Two CPUs of one family run ONNX Runtime's and LiteRT's int8 kernels with the same arithmetic, so a number
    measured on one holds for the other; across families it may not."""
    flags = {ARM_ALIASES.get(f, f) for f in features}
    if arch in ("x86_64", "amd64"):
        if flags & set(VNNI_FLAGS):
            return "x86-vnni"
        return "x86-avx2" if "avx2" in flags else "x86-sse"
    if arch in ("aarch64", "arm64"):
        if "i8mm" in flags:
            return "aarch64-i8mm"
        return "aarch64-dotprod" if "asimddp" in flags else "aarch64"
    return arch


@cache
def host_cpu() -> CpuFacts:
    """This machine, read once per process from /proc/cpuinfo (Linux); elsewhere what `platform` knows.

    On x86 the flags are then checked against CPUID as this process sees it: under QEMU user-mode emulation
    (`qemu-x86_64 -cpu Haswell`) or a VM that masks AVX-512, /proc/cpuinfo still describes the physical CPU,
    while ONNX Runtime's kernels dispatch on CPUID, so a flag CPUID denies is dropped."""
    arch = platform.machine().lower()
    model, flags = _cpuinfo()
    x86 = arch in ("x86_64", "amd64")
    wanted = X86_INT8_FLAGS if x86 else ARM_INT8_FLAGS
    denied = _cpuid_denied() if x86 else set()
    features = tuple(f for f in wanted if f in flags and f not in denied)
    return CpuFacts(model or platform.processor() or arch, arch, os.cpu_count() or 1, features)


def _cpuid_denied() -> set[str]:
    """The x86 flags numpy's CPUID probe reports absent; empty where numpy is not importable."""
    seen: dict[str, bool] = {}
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):  # numpy 2.x, then 1.x
        try:
            seen = importlib.import_module(module).__cpu_features__
            break
        except (ImportError, AttributeError):
            continue
    return {flag for flag, name in NUMPY_X86_NAMES.items() if name in seen and not seen[name]}


def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = "", set[str]()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model", "Hardware") and not model:
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model, flags


if __name__ == "__main__":  # `python3 runtimes/cpu_features.py`: CI's first line says which host ran it
    facts = host_cpu()
    flags = ", ".join(facts.features)
    print(f"host: {facts.model}, {facts.arch}, {facts.cores} cores, int8 family {facts.family} ({flags})")
