"""What the torch frontends share: hashing files, example inputs from --input-shape, input names."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..errors import InputError, require
from .source import SourceRequest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def example_inputs(request: SourceRequest, where: str) -> tuple[Any, ...]:
    """Zero tensors of the shapes given with --input-shape; a torch module alone does not know them."""
    torch = require("torch")
    if not request.input_shapes:
        raise InputError(f"{where}: the input shape is unknown; pass --input-shape, e.g. --input-shape 1,3,224,224")
    for shape in request.input_shapes:
        check_example_shape(shape, f"{where}: --input-shape {','.join(map(str, shape))}")
    return tuple(torch.zeros(shape) for shape in request.input_shapes)


MAX_EXAMPLE_ELEMENTS = 1 << 28  # 1 GiB of float32 for one example input: beyond any edge model's input


def check_example_shape(shape: tuple[int, ...], where: str) -> None:
    """Refuse a shape before a zero tensor of it is allocated: a typo such as 1,3,2240,22400 must be an
    error line, not a process killed for memory."""
    if not shape or any(not isinstance(d, int) or d <= 0 for d in shape):
        raise InputError(f"{where}: the dimensions must be positive integers")
    elements = 1
    for d in shape:
        elements *= d
    if elements > MAX_EXAMPLE_ELEMENTS:
        raise InputError(
            f"{where}: {elements:,} elements per example is absurd for an edge model (limit "
            f"{MAX_EXAMPLE_ELEMENTS:,}); check the shape"
        )


def input_names(request: SourceRequest, count: int, where: str) -> tuple[str, ...]:
    if request.input_names:
        if len(request.input_names) != count:
            raise InputError(f"{where}: {len(request.input_names)} --input-name(s) for {count} input(s)")
        return request.input_names
    return ("input",) if count == 1 else tuple(f"input_{i}" for i in range(count))


def load_state_dict(module: Any, weights: Path, where: str) -> None:
    """Load a state_dict with weights_only=True: weights files never execute code."""
    torch = require("torch")
    if not weights.is_file():
        raise InputError(f"--weights {weights}: file not found")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(
            f"--weights {weights}: not a loadable state_dict ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        ) from None
    if not isinstance(state, dict):
        raise InputError(f"--weights {weights}: expected a state_dict (dict of tensors), got {type(state).__name__}")
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"--weights {weights}: does not match {where} ({str(exc).splitlines()[1:2]})") from None
