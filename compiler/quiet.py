"""Silence third-party loggers for the length of one call, then restore them.

ONNX Runtime's quantizer warns through the root logger and torch.onnx logs every absent optional op;
edgec reports what matters itself, but a Python caller's own logging must be left as it was.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import clip, require


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


class _Holder(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def held_records(name: str) -> Iterator[list[logging.LogRecord]]:
    """Keep what logger `name` emits in the block (yielded, as records) instead of printing it.

    torch.export.load logs a corrupt file's traceback as 18 warning lines before raising a vague error that
    says "see the warnings above": the caller turns the held record into its one error line instead."""
    logger = logging.getLogger(name)
    records: list[logging.LogRecord] = []
    holder = _Holder(records)
    saved = logger.handlers[:], logger.propagate
    logger.handlers, logger.propagate = [holder], False
    try:
        yield records
    finally:
        logger.handlers, logger.propagate = saved


@contextmanager
def captured_native_output() -> Iterator[list[str]]:
    """Send file descriptors 1 and 2 to a buffer for the block: converters print from C++ and from print().

    Yields a list that holds the captured text once the block ends, so a failure can quote its tail.
    """
    captured: list[str] = []
    python_level = io.StringIO()  # print() goes here when sys.stdout is not fd 1 (e.g. under pytest)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(python_level), contextlib.redirect_stderr(python_level):
                yield captured
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            captured.append(sink.read().decode(errors="replace") + python_level.getvalue())


def import_tensorflow() -> object:
    """Import TensorFlow without its start-up chatter (CUDA stubs, oneDNN notices, absl warnings)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with captured_native_output():
        tf = require("tensorflow")
        tf.config.set_visible_devices([], "GPU")  # CPU only: conversion needs no GPU, and probing one logs errors
    return tf


def tail(captured: list[str], lines: int = 4, limit: int = 400) -> str:
    """The last lines a converter printed, on one line, for an error message that must stay one line."""
    text = captured[0] if captured else ""
    return clip(" | ".join(line.strip() for line in text.strip().splitlines()[-lines:]), limit)
