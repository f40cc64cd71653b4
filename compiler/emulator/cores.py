"""Target cores as qemu-user emulates them, and the /proc/cpuinfo each one shows its programs.

qemu 7.2's linux-user passes the host's /proc/cpuinfo through unchanged: an aarch64 program on an x86 host
reads "AMD EPYC" with no `CPU implementer`/`CPU part` lines. ONNX Runtime 1.32 initialises pytorch/cpuinfo in
a static constructor; its Linux-ARM path finds no valid processor in that file but still sizes and fills its
cluster/cache tables from sysfs, and stores through a NULL table pointer: `import onnxruntime` segfaults.
So every core gets an ARM /proc/cpuinfo with its real MIDR fields (sysroot.Emulator.core_root), which also
lets ORT pick the micro-kernels it would pick on the device (it keys some GEMM choices on the core).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Core:
    qemu: str  # the -cpu model
    part: int  # MIDR part number (implementer 0x41, Arm)
    variant: int
    revision: int
    features: str  # the Features line the real core's kernel prints


_A72 = Core("cortex-a72", 0xD08, 0x0, 3, "fp asimd evtstrm crc32 cpuid")  # BCM2711 (Raspberry Pi 4): no crypto
_A76 = Core(
    "cortex-a76",
    0xD0B,
    0x4,
    1,
    "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp",
)
CORES: dict[str, Core] = {
    "cortex-a35": Core("cortex-a35", 0xD04, 0x0, 2, "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"),
    "cortex-a53": Core("cortex-a53", 0xD03, 0x0, 4, "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"),
    "cortex-a57": Core("cortex-a57", 0xD07, 0x1, 1, "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"),
    "cortex-a72": _A72,
    "cortex-a76": _A76,
    "neoverse-n1": Core("neoverse-n1", 0xD0C, 0x3, 1, _A76.features + " ssbs"),
}
# cores qemu 7.2 does not model -> the closest one it does (same architecture level and SIMD extensions)
CLOSEST: dict[str, str] = {
    "cortex-a55": "cortex-a76",  # v8.2 with dot product; qemu has no in-order v8.2 core
    "cortex-a65": "cortex-a76",
    "cortex-a73": "cortex-a72",
    "cortex-a75": "cortex-a76",
    "cortex-a77": "cortex-a76",
    "cortex-a78": "cortex-a76",
    "cortex-a78ae": "cortex-a76",  # Jetson Orin: v8.2 + dotprod; qemu 7.2 has no A78
    "cortex-a78c": "cortex-a76",
    "cortex-x1": "cortex-a76",
    "carmel": "cortex-a76",
}


def pick(core: str) -> tuple[Core, str]:
    """The emulated core for a profile's `[cpu] core` and a note ('' when it is the core itself)."""
    name = core.strip().lower()
    if name in CORES:
        return CORES[name], ""
    if name in CLOSEST:
        chosen = CORES[CLOSEST[name]]
        return chosen, f"qemu has no {core}; emulating the closest core it has, {chosen.qemu}"
    for known in sorted(CORES, key=len, reverse=True):  # "cortex-a72 host + Edge TPU"
        if known in name:
            return CORES[known], f"emulating the {known} named in {core!r}"
    raise ValueError(f"core {core!r} is not an aarch64 application core this emulator runs (known: {', '.join(CORES)})")


def cpuinfo_text(core: Core, processors: int) -> str:
    """/proc/cpuinfo as an arm64 Linux kernel prints it for `processors` cores of this kind."""
    block = (
        "processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: {features}\nCPU implementer\t: 0x41\n"
        "CPU architecture: 8\nCPU variant\t: {variant:#x}\nCPU part\t: {part:#05x}\nCPU revision\t: {revision}\n"
    )
    return (
        "\n".join(
            block.format(n=n, features=core.features, variant=core.variant, part=core.part, revision=core.revision)
            for n in range(processors)
        )
        + "\n"
    )
