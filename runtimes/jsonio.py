"""JSON that every reader accepts: SQNR is +inf for identical outputs, and bare Infinity is not JSON."""

from __future__ import annotations

import json
import math
from typing import Any


def to_json(data: Any) -> bytes:
    """JSON with non-finite floats spelled as strings: SQNR is +inf for identical outputs."""
    return (json.dumps(_finite(data), indent=2, sort_keys=False) + "\n").encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
