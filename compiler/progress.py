"""Progress on a terminal, silence elsewhere: logs and CI output stay readable."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    """Step messages and a single-line counter, shown only when enabled (default: stderr is a TTY)."""

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled

    def __reduce__(self) -> tuple[type[Progress], tuple[bool]]:
        """Sent to a worker (a search candidate), it is quiet: workers' counters would interleave on one
        terminal, and its stream does not travel."""
        return Progress, (False,)

    def step(self, message: str) -> None:
        if self.enabled:
            print(f"edgec: {message} ...", file=self.stream, flush=True)

    @contextmanager
    def counter(self, label: str, total: int) -> Iterator[_Counter]:
        counter = _Counter(self if self.enabled else None, label, total)
        try:
            yield counter
        finally:
            counter.close()


class _Counter:
    def __init__(self, progress: Progress | None, label: str, total: int):
        self.progress, self.label, self.total, self.done = progress, label, max(total, 1), 0
        self._last_draw = 0.0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.progress and (now - self._last_draw > 0.1 or self.done >= self.total):
            self._last_draw = now
            percent = 100 * min(self.done, self.total) // self.total
            print(
                f"\redgec: {self.label} {self.done}/{self.total} ({percent}%)",
                end="",
                file=self.progress.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.progress and self.done:
            print(file=self.progress.stream, flush=True)
