"""Progress: live on a terminal, one line per finished stage in a log, nothing with --quiet.

A terminal gets step messages and a counter redrawn in place. A log (CI output, a redirected stderr) cannot
show a redrawn counter and would be cluttered by every step's start, but a silent compile of many minutes
looks hung: there each stage prints one line when it ends, with the seconds it took (issue 27 item 26).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    """Step messages and a single-line counter.

    `enabled` None (the default) decides by stderr: live on a TTY, stage lines otherwise. True forces the live
    display (--progress), False shows nothing (--quiet)."""

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        tty = _isatty(self.stream)
        self.enabled = tty if enabled is None else enabled  # the live display
        self.log = enabled is None and not tty  # one line per finished stage

    def __reduce__(self) -> tuple[type[Progress], tuple[bool]]:
        """Sent to a worker (a search candidate), it is quiet: workers' counters would interleave on one
        terminal, and its stream does not travel."""
        return Progress, (False,)

    def step(self, message: str) -> None:
        """A message about what starts now (a search, a sweep job): on a terminal only; a log gets one line
        per finished stage (a pass, an evaluation) instead."""
        if self.enabled:
            print(f"edgec: {message} ...", file=self.stream, flush=True)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """One stage (a pass): announced on a terminal when it starts, in a log when it ends, with its time.
        A stage that fails prints nothing in a log: the error line says what happened."""
        if self.enabled:
            print(f"edgec: {name} ...", file=self.stream, flush=True)
        start = time.perf_counter()
        yield
        if self.log:
            print(f"edgec: {name} done in {time.perf_counter() - start:.1f} s", file=self.stream, flush=True)

    @contextmanager
    def counter(self, label: str, total: int) -> Iterator[_Counter]:
        counter = _Counter(self if self.enabled else None, label, total)
        start = time.perf_counter()
        try:
            yield counter
        finally:
            counter.close()
        if self.log and counter.done:
            seconds = time.perf_counter() - start
            print(f"edgec: {counter.label}: {counter.done} done in {seconds:.1f} s", file=self.stream, flush=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or minimal stream: not a terminal
        return False


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
