"""Finds edgec's packages: the repository root is the `edgec` package (pyproject maps `edgec` to `.`), which
`[tool.setuptools.packages.find]` cannot express (it would install `compiler`, `targets`, ... as top-level
packages), so every folder with an __init__.py under the root becomes `edgec.<folder>` here. tests/ and bench/
are not packages and stay out of the wheel, as does this file. Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
EXCLUDE = ["tests", "tests.*", "bench", "bench.*", "build", "build.*", "docs", "docs.*"]


class BuildPy(build_py):
    """build_py without this file, which sits in the root package's folder."""

    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        modules = super().find_package_modules(package, package_dir)
        return [m for m in modules if not (package == "edgec" and m[1] == "setup")]


if __name__ == "__main__":  # run by the build backend; importing edgec.setup from a checkout does nothing
    subpackages = find_packages(where=str(ROOT), exclude=EXCLUDE)
    setup(packages=["edgec", *(f"edgec.{name}" for name in subpackages)], cmdclass={"build_py": BuildPy})
