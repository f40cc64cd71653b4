"""ONNX node attributes read the same way by passes and by the algorithms beneath them.

A helper of its own, below both: bias correction and layer-input capture need a Conv's group count as much
as the equalize and prune passes do, and an algorithm must not import a pass to get it.
"""

from __future__ import annotations

from typing import Any


def conv_group(node: Any) -> int:
    """A Conv node's group count (1 unless set)."""
    return next((a.i for a in node.attribute if a.name == "group"), 1)
