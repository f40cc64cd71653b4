"""Resident memory of this process: now, and the peak since a reset.

Linux keeps the peak (VmHWM) per process and lets a process reset it (`5` into /proc/self/clear_refs), so a
harness can measure one model's peak without counting what ran before it. Elsewhere, getrusage's maximum is
the fallback (it cannot be reset, so it includes everything the process did).
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

STATUS = Path("/proc/self/status")


def current_rss_bytes() -> int | None:
    return _status_bytes("VmRSS")


def reset_peak() -> bool:
    """Start a new peak window; False where the OS cannot (the peak then covers the whole process)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    peak = _status_bytes("VmHWM")
    if peak is not None:
        return peak
    maximum = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maximum if sys.platform == "darwin" else maximum * 1024  # macOS counts bytes, Linux kilobytes


def _status_bytes(key: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
