"""The hash of the edgec code a module runs: its own source and that of every edgec module it imports,
transitively (issue 26).

Cache entries (pass outputs, scratch intermediates) are keyed by it, so editing a helper a pass imports
(bias_correction.py, sparsegpt.py, ...) invalidates the pass's entries, not only editing the pass itself.
The imports are found statically with `ast` (module-level and function-level `import` / `from ... import`,
absolute `edgec.` and relative ones) and resolved to files of the package; nothing is imported.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "edgec"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the folder `edgec` maps to (the repository root)


def module_file(root: Path, module: str) -> Path | None:
    """The file of `module` (a dotted name under `edgec`) in the package folder `root`, if it is one."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported(root: Path, module: str, path: Path) -> set[str]:
    """The edgec modules `module` (at `path`) imports, anywhere in its body, as dotted names."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    edgec = {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}
    # importing a.b.c runs a/__init__.py and a/b/__init__.py too
    return {".".join(name.split(".")[:i]) for name in edgec for i in range(1, name.count(".") + 2)}


def module_closure(root: Path, module: str) -> dict[str, Path]:
    """`module` and every edgec module it imports, transitively: dotted name -> file (in `root`)."""
    closure: dict[str, Path] = {}
    pending = [module]
    while pending:
        name = pending.pop()
        if name in closure or (path := module_file(root, name)) is None:
            continue
        closure[name] = path
        pending.extend(_imported(root, name, path) - closure.keys())
    return closure


def closure_hash(root: Path, module: str) -> str:
    """sha256 over the names and contents of `module_closure(root, module)`; "unknown" when `module` is
    not a file of the package (for example a pass defined outside edgec)."""
    closure = module_closure(root, module)
    if not closure:
        return "unknown"
    digest = hashlib.sha256()
    for name in sorted(closure):
        digest.update(f"{name}\0{hashlib.sha256(closure[name].read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


@functools.cache
def code_hash(module: str) -> str:
    """`closure_hash` of the installed edgec, computed once per process."""
    return closure_hash(PACKAGE_ROOT, module)
