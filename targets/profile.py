"""Target profiles: per-device TOML data loaded into frozen, validated dataclasses.

A profile states hardware facts and the decisions that follow from them (artifacts, quantization scheme,
threads, budgets). Loading is strict: an unknown key is an error with a suggestion, because a typo in a
budget must never silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runtimes.cpu_features import host_cpu, isa_family

PROFILE_DIR = Path(__file__).parent


class ProfileError(ValueError):
    """A profile file is invalid or a target name is unknown; the message says where and what."""


@dataclass(frozen=True)
class Cpu:
    arch: str
    core: str
    cores: int
    clock_ghz: float
    features: tuple[str, ...] = ()
    l2_kb: int = 0


@dataclass(frozen=True)
class Memory:
    """The device's memory. A microcontroller's RAM is a few hundred KB: `ram_kb` states it exactly (with
    `ram_mb = 0`), so `targets show` never prints "0 MB RAM"."""

    ram_mb: int
    storage: str = ""
    ram_kb: int = 0  # when set, the RAM in KB (microcontrollers); it takes the place of ram_mb
    weights_in: str = "ram"  # "flash" on microcontrollers: weights stay in flash, RAM holds the arena only

    def __post_init__(self) -> None:
        _choice("memory.weights_in", self.weights_in, ("ram", "flash"))


@dataclass(frozen=True)
class Cost:
    """Constants of the roofline latency model (for the profile's thread count) and the kernel library's
    scratch rule. `sources` says where each number comes from, so nobody mistakes a guess for a measurement:
    "measured: ..." (fitted on the device by bench/cost_model.py), "published: ..." (derived from a published
    latency) or "datasheet: ..." (from vendor figures, not checked against a run)."""

    int8_gmacs: float
    float32_gmacs: float
    bandwidth_gbs: float
    layer_overhead_us: float
    run_overhead_us: float
    float16_gmacs: float = 0.0  # 0: no fp16 arithmetic, half precision runs at the float32 rate
    depthwise_efficiency: float = 1.0  # the share of the MAC rate a depthwise convolution reaches
    scratch: str = "im2col"  # the convolution kernels' scratch rule: im2col, cmsis-nn or none
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _choice("cost.scratch", self.scratch, ("im2col", "cmsis-nn", "none"))
        constants = [f.name for f in dataclasses.fields(self) if f.type == "float"]
        for name in constants:
            if getattr(self, name) < 0:
                raise ValueError(f"cost.{name} = {getattr(self, name)} must not be negative")
            origin = self.sources.get(name, "").partition(":")[0]
            if origin not in ("measured", "published", "datasheet"):
                raise ValueError(
                    f"cost.sources.{name} must say where the number comes from: "
                    '"measured: ...", "published: ..." or "datasheet: ..."'
                )
        if self.int8_gmacs <= 0 or self.float32_gmacs <= 0 or self.bandwidth_gbs <= 0:
            raise ValueError("cost.int8_gmacs, cost.float32_gmacs and cost.bandwidth_gbs must be positive")


@dataclass(frozen=True)
class Quantization:
    """The int8 scheme the device's runtimes run fastest and correctly; `why` records the argument."""

    weights: str = "int8"
    activations: str = "int8"
    per_channel: bool = True
    format: str = "qdq"
    reduce_range: bool = False
    symmetric_activations: bool = False  # activation zero points 0: TensorRT's explicit (QDQ) int8 needs it
    calibration: str = "minmax"
    io: str = "float32"  # IO dtype of full-integer TFLite artifacts: int8/uint8 for Edge TPU and MCUs
    why: str = ""

    def __post_init__(self) -> None:
        _choice("quantization.io", self.io, ("float32", "int8", "uint8"))
        _choice("quantization.weights", self.weights, ("int8", "uint8"))
        _choice("quantization.activations", self.activations, ("int8", "uint8"))
        _choice("quantization.format", self.format, ("qdq",))
        _choice("quantization.calibration", self.calibration, ("minmax", "percentile", "entropy"))


@dataclass(frozen=True)
class Artifact:
    """One deliverable: a format for a runtime, produced by a pipeline of passes."""

    name: str
    format: str
    runtime: str
    pipeline: str

    def __post_init__(self) -> None:
        _choice(f"artifacts[{self.name}].format", self.format, ("onnx", "tflite"))
        _choice(f"artifacts[{self.name}].runtime", self.runtime, ("onnxruntime", "litert", "tflm"))


@dataclass(frozen=True)
class Budgets:
    """Accuracy drift the device's users accept; top-1 points with labels, agreement without."""

    max_accuracy_drop: float = 1.0
    min_agreement: float = 0.97
    min_cross_format_agreement: float = 0.98  # ONNX-int8 vs TFLite-int8 top-1 agreement, when both are built
    # output SQNR vs float, every artifact, every output kind: 10 dB (noise RMS a third of the signal's) keeps
    # every useful int8 model measured here (demo 37-39 dB; the saturated GRU, top-1 within 0.6 points, 10.7 dB
    # whatever its compute ops' precision) and fails the collapsed ones (3-4 dB: a detector whose int8 input
    # steps swallowed the signal; a streaming detector whose argmax "agreed" 100%)
    min_sqnr_db: float = 10.0
    # device p90 latency per batch-1 inference, checked when device results are ingested; None: unchecked
    max_latency_ms: float | None = None


@dataclass(frozen=True)
class Constraints:
    """Hard limits of the device: an artifact that breaks one is refused, never shipped."""

    allowed_ops: tuple[str, ...] = ()  # TFLite builtin op names; empty means any
    op_set: str = ""  # the name of that op set, for messages
    static_shapes: bool = False
    max_tensor_rank: int = 0  # 0 means any
    flash_kb: int = 0  # 0 means unchecked
    ram_kb: int = 0
    compile_command: str = ""  # a device compiler to run on the artifact, e.g. edgetpu_compiler


@dataclass(frozen=True)
class TargetProfile:
    id: str
    description: str
    cpu: Cpu
    memory: Memory
    quantization: Quantization
    artifacts: tuple[Artifact, ...]
    threads: int = 1
    budgets: Budgets = field(default_factory=Budgets)
    constraints: Constraints = field(default_factory=Constraints)
    cost: Cost | None = None  # without it there is no latency estimate; RAM and flash are still checked
    published: dict[str, float] = field(default_factory=dict)
    unverified: tuple[str, ...] = ()
    host: bool = False  # "this machine": the cpu facts are read from the build host when the profile loads
    extends: str = ""  # the family profile this one was merged onto (resolved: "host" names the detected one)

    @property
    def isa_family(self) -> str:
        """The int8 kernel family of the target's CPU (runtimes/cpu_features.py): numbers measured on a host of
        another family do not stand for this device."""
        return isa_family(self.cpu.arch, self.cpu.features)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def known_targets() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name_or_path: str) -> TargetProfile:
    """Load a profile by target id (a file in targets/) or by a path to a user's TOML file.

    `extends = "NAME"` merges the file onto another profile (tables merge key by key, lists and values
    replace); `extends = "host"` names the x86 family profile of this build machine's CPU, and `host = true`
    replaces the cpu facts with the ones read from it, so `host-x86` describes the machine it runs on."""
    path = _profile_path(name_or_path)
    table = _merged_table(path, [])
    if table.get("host") is True:
        table["cpu"] = {**table.get("cpu", {}), **_detected_cpu()}
    return _build(TargetProfile, table, str(path))


def host_family_profile() -> str:
    """The x86 family profile that describes this machine's int8 kernels (x86-avx2 where VNNI is absent, and
    on a non-x86 host, whose x86 target can only be a guess: the family that is safe everywhere)."""
    return "x86-vnni" if host_cpu().family == "x86-vnni" else "x86-avx2"


def _profile_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml":
        return path
    path = PROFILE_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = known_targets()
        hint = difflib.get_close_matches(name_or_path, known, n=1)
        did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ProfileError(f"unknown target {name_or_path!r}{did_you_mean}; known targets: {', '.join(known)}")
    return path


def _merged_table(path: Path, seen: list[Path]) -> dict[str, Any]:
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad TOML or bad UTF-8
        raise ProfileError(f"{path}: cannot read profile ({exc}); it must be a UTF-8 TOML file") from None
    parent = table.get("extends")
    if parent is None:
        return table
    if not isinstance(parent, str) or not parent:
        raise ProfileError(f'{path}: extends must name a target profile, e.g. extends = "x86-avx2"')
    resolved = host_family_profile() if parent == "host" else parent
    parent_path = _profile_path(resolved) if "/" not in resolved else path.parent / resolved
    if parent_path.resolve() in seen or parent_path.resolve() == path.resolve():
        raise ProfileError(f"{path}: extends {parent!r} loops back to itself")
    merged = _merge(_merged_table(parent_path, [*seen, path.resolve()]), table)
    merged["extends"] = resolved
    return merged


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        both_tables = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = _merge(base[key], value) if both_tables else value
    return merged


def _detected_cpu() -> dict[str, Any]:
    facts = host_cpu()
    return {"arch": facts.arch, "core": facts.model, "cores": facts.cores, "features": list(facts.features)}


def _build(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, dict):
        raise ProfileError(f"{where}: expected a table, got {type(table).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in table:
        if key not in fields:
            hint = difflib.get_close_matches(key, list(fields), n=1)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ProfileError(f"{where}: unknown key {key!r}{did_you_mean}")
    missing = [
        n
        for n, f in fields.items()
        if n not in table and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ProfileError(f"{where}: missing required key(s) {', '.join(missing)}")
    values = {key: _convert(hints[key], value, f"{where}: {key}") for key, value in table.items()}
    try:
        return cls(**values)
    except ValueError as exc:
        raise ProfileError(f"{where}: {exc}") from None


def _convert(hint: Any, value: Any, where: str) -> Any:
    if typing.get_origin(hint) is types.UnionType:  # X | None: a value was given, so it is an X
        hint = typing.get_args(hint)[0]
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin is tuple:
        (item_type, _) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ProfileError(f"{where}: expected a list")
        return tuple(_convert(item_type, item, f"{where}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ProfileError(f"{where}: expected a table")
        return {k: _convert(typing.get_args(hint)[1], v, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, float) and not math.isfinite(value):  # nan fails every gate check
        raise ProfileError(f"{where}: {value} is not a finite number")
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ProfileError(f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def _choice(where: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{where} = {value!r} is not one of {', '.join(allowed)}")
