"""The CLI run in-process for tests that check its one error line and exit code (no subprocess start-up)."""

from __future__ import annotations

import pytest

from edgec import cli


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; its exit code, stdout and stderr."""
    with pytest.raises(SystemExit) as exited:
        cli.main(list(argv))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def one_error_line(err: str, prefix: str = "edgec: error: ") -> str:
    """The only non-blank line of `err`, which must start with `prefix`."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), err
    return lines[0]
