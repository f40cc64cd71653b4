"""Process-wide settings a pass must change for its own work only (torch's thread count, Python's recursion
limit): set for the block, then given back, so nothing else in the process inherits a pass's needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def temporarily(get: Callable[[], Any], set_: Callable[[Any], None], value: Any) -> Iterator[None]:
    previous = get()
    set_(value)
    try:
        yield
    finally:
        set_(previous)
