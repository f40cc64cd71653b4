"""Error kinds and their exit codes.

The CLI turns every EdgecError into one line on stderr and its exit code, so a user never sees a bare
traceback for a mistake they can fix. The codes are stable because CI scripts branch on them.
"""

from __future__ import annotations

import errno
import re

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def clip(text: str, limit: int = 300) -> str:
    """A tool's message fit for one error line: colour codes gone, newlines and runs of spaces made one space,
    and when it is too long, cut at a word boundary with an ellipsis (never mid-word, as `str(exc)[:200]` did)."""
    flat = " ".join(_ANSI.sub("", text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] if " " in flat[:limit] else flat[:limit]
    return cut.rstrip(" ,;:(") + " ..."


class EdgecError(Exception):
    """Base of every error edgec reports as one line; `exit_code` is what the CLI returns."""

    exit_code = 3


class InputError(EdgecError):
    """The user gave something unusable: a missing file, a corrupt model, data of the wrong shape."""

    exit_code = 2


class ConfigError(InputError):
    """A pipeline, profile or option is invalid (unknown pass, unknown key, wrong type)."""


class PipelineError(ConfigError):
    """Passes do not chain: one produces a model kind the next cannot accept."""


class ToolchainError(EdgecError):
    """A third-party converter or runtime failed on input we believed valid."""

    exit_code = 3


class MissingDependencyError(EdgecError):
    """An optional dependency is not installed; the message names the extra that provides it."""

    exit_code = 4


class GateError(EdgecError):
    """The build completed but broke a budget (drift, size); the build is still written for inspection."""

    exit_code = 1


class RemoteError(EdgecError):
    """A device could not run the harness (unreachable, no Python, no numpy); the message names the step."""

    exit_code = 5


# A write failed because of the filesystem, not edgec: full, over quota, read-only, refused, too big, broken
FILESYSTEM_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO}
)


def cannot_write(where: object, exc: OSError, advice: str, cls: type[InputError] = InputError) -> InputError:
    """A write that failed in the user's filesystem (full, over quota, read-only) as one line naming the path:
    after all the work, "No space left on device" from deep inside edgec reads as a bug in it."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    reason = "the filesystem is full" if full else (exc.strerror or str(exc))
    return cls(f"{where}: cannot write there ({reason}); {'free space there or ' if full else ''}{advice}")


def failure_line(exc: Exception) -> str:
    """One unit of work's failure as one line, for a result that carries it (a sweep job, a search candidate)
    instead of ending the run: edgec's own errors by class, anything else marked as internal."""
    if isinstance(exc, EdgecError):
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}"


def require(module: str, extra: str = "compiler"):
    """Import `module` or raise a MissingDependencyError telling which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is not installed ({exc}); install it with: pip install 'edgec[{extra}]'"
        ) from exc
