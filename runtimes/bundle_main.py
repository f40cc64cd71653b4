"""The bundle's own `__main__.py`: `python model.bundle` runs the harness from the bundle, and nothing else.

Python puts the archive first on sys.path before this file runs, so a member at the zip's root named like a
module (`numpy.py`, `json/__init__.py`) would replace that module for the whole run: code that the bundle's
index never lists would execute on the device. So this file, copied into the bundle verbatim and importing
only the standard library, first takes the archive off sys.path, then refuses a bundle holding a member its
bundle.json does not list (or a listed piece of code that does not match its sha256), and only then imports
the `edgec` package, alone, from the archive: no other module name can resolve to a member of the bundle.

The harness's child processes (harness_worker.py, one per artifact) start the same way, through WORKER_FLAG,
so they too import edgec from the bundle and nothing else from it. `unlisted` is the membership rule that
runtimes/bundle.py applies to every bundle it opens, on the host and on the device alike.
"""

import sys  # no `from __future__`: that line imports a module, and this runs before the archive is off sys.path

INDEX = "bundle.json"
MAX_INDEX_BYTES = 16 << 20  # bundle.json is a few KiB
MAX_CODE_BYTES = 4 << 20  # a harness source is tens of KiB
CODE = ("__main__.py", "edgec/")  # the members Python itself imports from the archive
PACKAGE = "edgec"
WORKER_FLAG = "--edgec-worker"  # argv[1] of a harness child: measure one artifact (harness_worker.main)
MODULES = {True: "edgec.runtimes.harness_worker", False: "edgec.runtimes.harness"}


def unlisted(names: list[str], files: dict[str, object]) -> str | None:
    """Why the archive's members are not exactly those the index lists (None when they are): a duplicate name
    (zipfile and zipimport may each pick another copy) or a member bundle.json does not list."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return f"member {name!r} appears twice"
        seen.add(name)
        if name != INDEX and name not in files:
            return f"member {name!r} is not listed in {INDEX} (a bundle holds only what its index lists)"
    return None


def main() -> int:
    import os

    # abspath, not realpath: under qemu-user with a sysroot (edgec run --device emulated:...) resolving the
    # sysroot's symlinks gives guest paths that do not exist
    archive = os.path.abspath(sys.argv[0])
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != archive]  # before any import
    problem = _problem(archive)
    if problem is not None:
        refusal = f"harness: {sys.argv[0]}: {problem}; refusing the whole bundle, re-bundle with `edgec bundle`"
        print(refusal, file=sys.stderr)
        return 2
    _import_package(archive)
    import importlib

    worker = sys.argv[1:2] == [WORKER_FLAG]
    entry = importlib.import_module(MODULES[worker]).main  # the package is the archive's; its imports too
    if worker:
        sys.argv = [sys.argv[0], *sys.argv[2:]]
        entry()
        return 0
    return int(entry(sys.argv))


def _problem(archive: str) -> str | None:
    """What makes the archive unsafe to import code from, read with the standard library alone."""
    import hashlib
    import json
    import zipfile

    try:
        with zipfile.ZipFile(archive) as bundle:
            infos = bundle.infolist()
            names = [info.orig_filename for info in infos]
            if INDEX not in names or bundle.getinfo(INDEX).file_size > MAX_INDEX_BYTES:
                return f"no {INDEX} of a sane size; not an edgec bundle"
            index = json.loads(bundle.read(INDEX))
            files = index.get("files") if isinstance(index, dict) else None
            if not isinstance(files, dict):
                return f"{INDEX} lists no files"
            problem = unlisted(names, files)
            if problem is not None:
                return problem
            for info in infos:
                if not info.filename.startswith(CODE):
                    continue
                if info.file_size > MAX_CODE_BYTES:
                    return f"member {info.filename!r} declares {info.file_size} bytes, too many for code"
                if hashlib.sha256(bundle.read(info)).hexdigest() != files[info.filename]:
                    return f"{info.filename} does not match its sha256 in {INDEX}"
    except (OSError, ValueError, RecursionError, RuntimeError, EOFError, zipfile.BadZipFile) as exc:
        return f"not a readable edgec bundle ({type(exc).__name__}: {exc})"
    return None


def _import_package(archive: str) -> None:
    """`edgec` from the archive, registered by name: its submodules resolve inside it, nothing else does."""
    import importlib.util
    import zipimport

    spec = zipimport.zipimporter(archive).find_spec(PACKAGE)
    if spec is None or spec.loader is None:
        raise SystemExit(f"harness: {archive}: holds no {PACKAGE} package; re-bundle with `edgec bundle`")
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)


if __name__ == "__main__":
    sys.exit(main())
