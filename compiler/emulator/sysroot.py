"""The aarch64 sysroot the emulator runs in: Debian's arm64 Python plus the target's own runtime wheels.

Layout of the emulator folder (`EDGEC_EMULATOR_DIR`, else ~/.cache/edgec/emulator/aarch64-py<version>):

    sysroot/      Debian bookworm arm64 (minbase + python3.11), unpacked with `dpkg -x`: no chroot, no binfmt
    site/         numpy, onnxruntime and ai-edge-litert manylinux aarch64 wheels at constraints.txt's pins
    cores/<cpu>/  per emulated core: the sysroot's top-level folders as symlinks plus that core's /proc/cpuinfo
    marker.json   what was installed (suite, Python, pins); written last, so a folder without it is partial

`setup()` builds it in a staging folder beside the final one and renames it into place, so a reader sees a
complete emulator or none; a pin change in constraints.txt makes `find()` report it stale and `setup()` redo it.
`find()` never reaches the network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ToolchainError

SUITE = "bookworm"
PYTHON = "3.11"  # bookworm's python3
GLIBC = (2, 36)  # bookworm's glibc: the newest manylinux tag its wheels may carry
QEMU = "qemu-aarch64-static"
PACKAGES = ("numpy", "onnxruntime", "ai-edge-litert")  # numpy plus one runtime at a time, as on a device
FORMAT = 1  # bump when the folder's layout changes


def default_root() -> Path:
    env = os.environ.get("EDGEC_EMULATOR_DIR")
    return Path(env) if env else Path.home() / ".cache" / "edgec" / "emulator" / f"aarch64-py{PYTHON}"


def constraints_file() -> Path:
    """constraints.txt of this checkout (the package root is the repository root)."""
    return Path(__file__).resolve().parents[2] / "constraints.txt"


def pins() -> dict[str, str]:
    """The tested versions of every package constraints.txt pins (`name==version` lines)."""
    path = constraints_file()
    if not path.is_file():
        raise ToolchainError(f"cannot pin the emulator's wheels: {path} is missing (install edgec from a checkout)")
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s#;]+)", line)
        if match:
            found[_canonical(match.group(1))] = match.group(2)
    return found


def wanted_marker() -> dict:
    versions = pins()
    missing = [p for p in PACKAGES if _canonical(p) not in versions]
    if missing:
        raise ToolchainError(f"constraints.txt pins no version of {', '.join(missing)}")
    return {
        "format": FORMAT,
        "suite": SUITE,
        "python": PYTHON,
        "packages": {p: versions[_canonical(p)] for p in PACKAGES},
    }


@dataclass(frozen=True)
class Emulator:
    """A complete emulator folder and the qemu that runs it."""

    root: Path
    qemu: str
    marker: dict = field(default_factory=dict)

    @property
    def sysroot(self) -> Path:
        return self.root / "sysroot"

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def python(self) -> str:
        return f"/usr/bin/python{self.marker.get('python', PYTHON)}"

    def versions(self) -> dict[str, str]:
        return dict(self.marker.get("packages", {}))

    def core_root(self, cpu_info: str, name: str) -> Path:
        """The `-L` prefix for one emulated core: the sysroot plus that core's /proc/cpuinfo (see cpuinfo_text).

        qemu-user resolves every absolute path the guest opens under `-L` first, so a `proc/cpuinfo` there is
        what the guest reads instead of the x86 host's. Made once per core and cpu count, atomically."""
        target = self.root / "cores" / name
        if (target / "proc" / "cpuinfo").is_file():
            return target
        staging = target.with_name(f".{name}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for entry in self.sysroot.iterdir():
            if entry.name != "proc":
                (staging / entry.name).symlink_to(Path("..", "..", "sysroot", entry.name))
        (staging / "proc").mkdir()
        (staging / "proc" / "cpuinfo").write_text(cpu_info)
        try:
            staging.rename(target)
        except OSError:  # another process made it first
            shutil.rmtree(staging, ignore_errors=True)
        return target


def find(root: Path | None = None) -> Emulator | None:
    """The ready emulator, or None when qemu is missing or the folder is absent, partial or stale. Offline."""
    root = Path(root) if root else default_root()
    qemu = shutil.which(QEMU)
    marker_path = root / "marker.json"
    if qemu is None or not marker_path.is_file():
        return None
    try:
        marker = json.loads(marker_path.read_text())
        wanted = wanted_marker()
    except (OSError, ValueError, ToolchainError):
        return None
    if marker != wanted or not (root / "sysroot" / "usr" / "bin" / f"python{PYTHON}").exists():
        return None
    return Emulator(root, qemu, marker)


def status(root: Path | None = None) -> str:
    """One line on why the emulator is or is not ready."""
    root = Path(root) if root else default_root()
    if shutil.which(QEMU) is None:
        return f"{QEMU} is not on PATH (apt-get install qemu-user-static)"
    marker_path = root / "marker.json"
    if not marker_path.is_file():
        return f"no emulator at {root} (run: python -m edgec.compiler.emulator setup)"
    emulator = find(root)
    if emulator is None:
        return f"the emulator at {root} is stale or partial (run: python -m edgec.compiler.emulator setup)"
    packages = ", ".join(f"{k} {v}" for k, v in emulator.versions().items())
    return f"ready at {root}: Debian {SUITE} arm64, Python {PYTHON}, {packages}"


def setup(root: Path | None = None, progress: Callable[[str], None] | None = None) -> Path:
    """Build the emulator folder at `root` unless a complete one with the current pins is there; returns it.

    Needs (at setup time only) root, Debian's `debootstrap` and `qemu-user-static`, and the network for
    Debian's archive and PyPI."""
    say = progress or (lambda _line: None)
    root = Path(root) if root else default_root()
    wanted = wanted_marker()
    if find(root) is not None:
        say(f"emulator ready at {root}")
        return root
    for tool, package in ((QEMU, "qemu-user-static"), ("debootstrap", "debootstrap"), ("dpkg", "dpkg")):
        if shutil.which(tool) is None:
            raise ToolchainError(f"emulator setup needs {tool}: apt-get install {package}")
    root.parent.mkdir(parents=True, exist_ok=True)
    for leftover in root.parent.glob(f".{root.name}.*"):  # staging or retired folders of an interrupted setup
        say(f"removing leftover {leftover}")
        shutil.rmtree(leftover, ignore_errors=True)
    staging = root.parent / f".{root.name}.staging-{os.getpid()}"
    try:
        _build(staging, wanted, say)
        if root.exists():
            say(f"replacing the stale or partial emulator at {root}")
            retired = root.parent / f".{root.name}.old-{os.getpid()}"
            root.rename(retired)
            staging.rename(root)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(f"emulator ready at {root}")
    return root


def _build(staging: Path, wanted: dict, say: Callable[[str], None]) -> None:
    sysroot, site = staging / "sysroot", staging / "site"
    staging.mkdir(parents=True)
    say(f"debootstrap: Debian {SUITE} arm64 minbase with python{PYTHON} (first stage only) into {sysroot}")
    _run(
        [
            "debootstrap",
            "--foreign",
            "--arch=arm64",
            "--variant=minbase",
            f"--include=python3,libpython{PYTHON}",
            SUITE,
            str(sysroot),
        ],
        "debootstrap",
    )
    debs = sorted((sysroot / "var" / "cache" / "apt" / "archives").glob("*.deb"))
    say(f"unpacking {len(debs)} packages with dpkg -x")
    for deb in debs:
        _run(["dpkg", "-x", str(deb), str(sysroot)], f"dpkg -x {deb.name}")
        deb.unlink()  # ~40 MB of archives nothing reads again
    if not (sysroot / "usr" / "bin" / f"python{PYTHON}").exists():
        raise ToolchainError(f"debootstrap gave no python{PYTHON} in {sysroot}")
    specs = [f"{name}=={version}" for name, version in wanted["packages"].items()]
    say(f"pip: aarch64 wheels {' '.join(specs)} into {site}")
    platforms = [f"--platform=manylinux_2_{minor}_aarch64" for minor in range(GLIBC[1], 16, -1)]
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(site),
            *platforms,
            "--platform=manylinux2014_aarch64",
            "--only-binary=:all:",
            f"--python-version={PYTHON}",
            "--implementation=cp",
            "-c",
            str(constraints_file()),
            *specs,
        ],
        "pip install (aarch64 wheels)",
    )
    say("checking the emulated interpreter")
    check = subprocess.run(
        [shutil.which(QEMU) or QEMU, "-L", str(sysroot), str(sysroot / "usr" / "bin" / f"python{PYTHON}"), "-c", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check.returncode != 0:
        raise ToolchainError(f"the emulated python{PYTHON} does not start: {_last_line(check.stderr)}")
    (staging / "marker.json").write_text(json.dumps(wanted, indent=2) + "\n")


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolchainError(f"emulator setup: {what} failed: {exc}") from exc
    if done.returncode != 0:
        raise ToolchainError(f"emulator setup: {what} failed (exit {done.returncode}): {_last_line(done.stderr)}")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip() and not line.startswith("WARNING: Location")]
    return lines[-1] if lines else "no message"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
