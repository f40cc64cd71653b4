"""Issue 27, reliability round two (third part): items 2, 3, 8, 22, 26, 27 and 28. Each test names its item
and failed before its fix.

Errors reach the user as one line through the real CLI in-process (`edgec.cli.main`), as in
test_reliability.py and test_reliability_more.py."""

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
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), err
    return lines[0]


# Item 27: `targets show` shows the hard limits an artifact is refused for, and a microcontroller's RAM in KB.
def test_targets_show_gives_ram_in_kb_and_the_hard_limits(capsys):
    code, out, _ = run(capsys, "targets", "show", "nano33ble")
    assert code == 0
    assert "0 MB RAM" not in out and "256 KB RAM" in out
    limits = next(line for line in out.splitlines() if line.strip().startswith("limits"))
    assert "flash <= 768 KB" in limits and "160 KB" in limits and "TFLite Micro built-in" in limits
    code, out, _ = run(capsys, "targets", "show", "rpi4")
    assert code == 0 and "RAM for the model <= 512 MB" in out
