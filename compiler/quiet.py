"""Silence third-party loggers for the length of one call, then restore them.

ONNX Runtime's quantizer warns through the root logger and torch.onnx logs every absent optional op;
edgec reports what matters itself, but a Python caller's own logging must be left as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_loggers(*names: str, level: int = logging.ERROR) -> Iterator[None]:
    """Raise the named loggers ('' is the root) to at least `level` inside the block."""
    loggers = [logging.getLogger(name or None) for name in names]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.level, level))
    try:
        yield
    finally:
        for logger, old in zip(loggers, previous, strict=True):
            logger.setLevel(old)
