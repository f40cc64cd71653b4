"""The CPU a number was measured on: model, architecture and the instruction-set features int8 kernels choose by.

ONNX Runtime's int8 kernels differ by instruction set: on x86 without VNNI (AVX2 only) its U8S8 path adds
pairs of u8*s8 products in saturating 16-bit lanes (vpmaddubsw) and loses accuracy that a VNNI x86 or an Arm
core does not lose. A figure measured here is therefore labelled with this host's ISA, and the compiler
compares it with the target's family before letting it stand for the device. Standard library only: the
device harness records the same facts.
"""

from __future__ import annotations

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
    """This machine, read once per process from /proc/cpuinfo (Linux); elsewhere what `platform` knows."""
    arch = platform.machine().lower()
    model, flags = _cpuinfo()
    wanted = X86_INT8_FLAGS if arch in ("x86_64", "amd64") else ARM_INT8_FLAGS
    features = tuple(f for f in wanted if f in flags)
    return CpuFacts(model or platform.processor() or arch, arch, os.cpu_count() or 1, features)


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
