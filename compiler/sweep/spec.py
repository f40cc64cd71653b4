"""sweep.toml: a matrix of models x targets x variants, each cell one ordinary compile.

    output = "sweeps/demo"                  # relative to this file [sweep-<file stem>]
    targets = ["rpi4", "rpi5", "host-x86"]

    [[model]]
    name = "digits"                         # no source: the built-in demo
    # source = "model.onnx"  calib = "calib.npz"  eval = "eval.npz"  input-shape = [1, 3, 224, 224]

    [[variant]]
    name = "percentile"
    calibration = "percentile"              # also: prune, pipeline, quantize, max-drop, search

A job is plain JSON-able data (`Job`), so a local process or a Ray worker can run it without sharing memory
with the driver; its `key` hashes everything that decides its result, so a re-run knows what is already done.
Unknown keys are errors with a suggestion, as everywhere else: a misspelt option must not silently vanish.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..builds.store import project_folder
from ..cache_store import is_url
from ..errors import ConfigError
from ..registry import suggest

MODEL_KEYS = {"name", "source", "calib", "eval", "input-shape"}
VARIANT_KEYS = {"name", "calibration", "prune", "pipeline", "quantize", "max-drop", "search"}
TOP_KEYS = {"output", "targets", "model", "variant"}
PATH_KEYS = {"source", "calib", "eval"}


@dataclass(frozen=True)
class Job:
    """One compile of a sweep: which cell it is, the compile's options, and where its build goes."""

    model: str
    target: str
    variant: str
    options: dict[str, Any] = field(default_factory=dict)  # model and variant keys, paths made absolute
    output: str = ""
    cache_dir: str | None = None
    project: str = field(default_factory=lambda: str(project_folder()))  # whose registry records the builds

    @property
    def id(self) -> str:
        return f"{self.model}--{self.target}--{self.variant}"

    @property
    def key(self) -> str:
        """What decides the result (not where the cache lives): a re-run reuses a result with the same key."""
        material = {"model": self.model, "target": self.target, "variant": self.variant, "options": self.options}
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Sweep:
    path: Path
    output: Path
    jobs: list[Job]


def load_sweep(path: Path, cache_dir: str | Path | None) -> Sweep:
    """Read and check a sweep file; every job is built before anything runs, so a typo fails at once."""
    if not path.is_file():
        raise ConfigError(f"{path}: sweep file not found")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    _check_keys(table, TOP_KEYS, path, "the top level")
    targets = table.get("targets")
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        raise ConfigError(f'{path}: `targets` must be a non-empty list of target ids, e.g. ["rpi4", "host-x86"]')
    models = _tables(table, "model", MODEL_KEYS, path) or [{"name": "demo"}]
    variants = _tables(table, "variant", VARIANT_KEYS, path) or [{"name": "default"}]
    output = path.parent / str(table.get("output", f"sweep-{path.stem}"))
    jobs = [
        Job(
            model["name"],
            target,
            variant["name"],
            {**_model_options(model, path), **{k: v for k, v in variant.items() if k != "name"}},
            str((output / "builds" / f"{model['name']}--{target}--{variant['name']}").resolve()),
            _cache_location(cache_dir),
        )
        for model in models
        for target in targets
        for variant in variants
    ]
    return Sweep(path, output.resolve(), jobs)


def _cache_location(cache_dir: str | Path | None) -> str | None:
    """Absolute, so a worker in another folder (or on another machine, for a URL) finds the same cache."""
    if cache_dir is None or is_url(cache_dir):
        return None if cache_dir is None else str(cache_dir)
    return str(Path(cache_dir).resolve())


def _tables(table: dict[str, Any], name: str, allowed: set[str], path: Path) -> list[dict[str, Any]]:
    entries = table.get(name, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{path}: `{name}` must be an array of tables: [[{name}]]")
    seen: set[str] = set()
    for entry in entries:
        _check_keys(entry, allowed, path, f"a [[{name}]]")
        label = entry.get("name")
        if not isinstance(label, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", label):
            raise ConfigError(f"{path}: every [[{name}]] needs a name of letters, digits, '.', '_' or '-'")
        if label in seen:
            raise ConfigError(f"{path}: two [[{name}]] tables are named {label!r}")
        seen.add(label)
    return entries


def _check_keys(entry: dict[str, Any], allowed: set[str], path: Path, where: str) -> None:
    for key in entry:
        if key not in allowed:
            raise ConfigError(
                f"{path}: unknown key {key!r} in {where}{suggest(key, allowed)}; known: {sorted(allowed)}"
            )


def _model_options(model: dict[str, Any], path: Path) -> dict[str, Any]:
    options = {k: v for k, v in model.items() if k != "name"}
    for key in PATH_KEYS & options.keys():
        source = str(options[key])
        local = path.parent / source
        options[key] = str(local.resolve()) if key != "source" or local.suffix else source  # module:factory stays
    return options
