"""Architecture rules that must hold as the code grows: cheap imports, a compiler-free device side."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "tensorflow", "onnx", "onnxruntime", "onnxscript", "onnxslim")


def test_import_edgec_and_help_load_no_heavy_library():
    code = (
        "import sys, edgec, edgec.cli, edgec.compiler.api\n"
        "from click.testing import CliRunner\n"
        "assert CliRunner().invoke(edgec.cli.cli, ['--help']).exit_code == 0\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_runtimes_import_only_numpy_their_runtime_and_each_other():
    allowed = {"numpy", "onnxruntime", "ai_edge_litert", "tflite_runtime", "tflite_micro", "tensorflow", "__future__"}
    allowed |= set(sys.stdlib_module_names)
    for path in (ROOT / "runtimes").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                version_only = (
                    node.level == 2 and node.module is None and [a.name for a in node.names] == ["__version__"]
                )
                if (node.level >= 2 and not version_only) or (node.module or "").startswith("edgec.compiler"):
                    raise AssertionError(f"{path.name} imports from outside runtimes/: {ast.unparse(node)}")
                names = [] if node.level else [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_source_files_stay_small():
    for path in ROOT.rglob("*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        assert len(path.read_text().splitlines()) <= 400, f"{path} is over 400 lines: split it"
