"""What the device was doing while it was measured: CPU, clocks, governor, temperature, throttling.

A latency is only comparable to another taken under the same conditions. A Pi that throttled at 80 degrees
or ran the `powersave` governor reports a slower model that is not slower, so the harness records the state
before and after its runs, and which facts it could not read (never a guess).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .cpu_features import host_cpu

CPUFREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq")
THERMAL = Path("/sys/class/thermal")
# bits of `vcgencmd get_throttled` (Raspberry Pi firmware documentation)
THROTTLE_BITS = {
    0: "under-voltage now",
    1: "ARM frequency capped now",
    2: "throttled now",
    3: "soft temperature limit now",
    16: "under-voltage has occurred",
    17: "ARM frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it (Linux), else what the platform module knows, with its cores."""
    facts = host_cpu()
    return f"{facts.model} ({facts.cores} cores)"


def static_environment() -> dict[str, Any]:
    """Facts that do not change during a run."""
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "memory_total_bytes": _meminfo("MemTotal"),
        # set by `edgec run --device emulated:...`: the numbers are an emulated core's (timings are qemu's)
        "emulated": os.environ.get("EDGEC_EMULATED_CORE"),
    }


def dynamic_state() -> dict[str, Any]:
    """Facts that drift during a run (read before and after it)."""
    state: dict[str, Any] = {
        "governor": _read(CPUFREQ / "scaling_governor"),
        "cpu_khz": _int(_read(CPUFREQ / "scaling_cur_freq")),
        "cpu_max_khz": _int(_read(CPUFREQ / "scaling_max_freq")),
        "temperatures_c": _temperatures(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "memory_available_bytes": _meminfo("MemAvailable"),
    }
    state.update(_vcgencmd())
    return state


def _temperatures() -> dict[str, float]:
    found = {}
    for zone in sorted(THERMAL.glob("thermal_zone*")):
        kind, millidegrees = _read(zone / "type"), _int(_read(zone / "temp"))
        if millidegrees is not None:
            found[kind or zone.name] = millidegrees / 1000
    return found


def _vcgencmd() -> dict[str, Any]:
    """Raspberry Pi firmware's own reading of SoC temperature and throttling, when the tool is present."""
    tool = shutil.which("vcgencmd")
    if tool is None:
        return {"vcgencmd": None}
    temperature = _command([tool, "measure_temp"])  # temp=48.3'C
    throttled = _command([tool, "get_throttled"])  # throttled=0x0
    result: dict[str, Any] = {"vcgencmd": True, "soc_temperature_c": None, "throttled": None, "throttle_flags": []}
    if temperature and "=" in temperature:
        result["soc_temperature_c"] = float(temperature.split("=")[1].rstrip("'C"))
    if throttled and "=" in throttled:
        bits = int(throttled.split("=")[1], 16)
        result["throttled"] = hex(bits)
        result["throttle_flags"] = [name for bit, name in THROTTLE_BITS.items() if bits >> bit & 1]
    return result


def _command(argv: list[str]) -> str | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _meminfo(key: str) -> int | None:
    for line in (_read(Path("/proc/meminfo")) or "").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None
