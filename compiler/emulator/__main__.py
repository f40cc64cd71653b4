"""python -m edgec.compiler.emulator setup|status [--root DIR]"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import EdgecError
from .sysroot import setup, status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgec.compiler.emulator", description=__doc__)
    parser.add_argument("command", choices=["setup", "status"])
    parser.add_argument("--root", type=Path, default=None, help="emulator folder (default: $EDGEC_EMULATOR_DIR)")
    args = parser.parse_args(argv)
    if args.command == "status":
        print(status(args.root))
        return 0
    started = time.perf_counter()
    try:
        setup(args.root, progress=lambda line: print(f"[{time.perf_counter() - started:6.1f}s] {line}", flush=True))
    except EdgecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
