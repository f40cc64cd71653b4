"""`package.module:callable` returning an nn.Module: the way to compile a model defined in code.

The callable's module file (and the --weights file) are hashed so the cache notices when either changes.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
from pathlib import Path

from ..errors import InputError, require
from ..kinds import TorchModel
from .source import SourceInfo, SourceRequest
from .torch_common import example_inputs, file_sha256, input_names, load_state_dict


def load_factory(spec: str, request: SourceRequest) -> tuple[TorchModel, SourceInfo]:
    torch = require("torch")
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InputError(f"{spec}: expected package.module:callable")
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: modules in the current folder are importable
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except ImportError as exc:
        raise InputError(
            f"{spec}: cannot import {module_name!r} ({exc}); run edgec from the folder that holds it, or add that "
            "folder to PYTHONPATH"
        ) from None
    except AttributeError:
        raise InputError(f"{spec}: module {module_name!r} has no attribute {attribute!r}") from None
    try:
        module = factory()
    except Exception as exc:
        raise InputError(f"{spec}: calling {attribute}() failed ({type(exc).__name__}: {exc})") from None
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"{spec}: {attribute}() returned {type(module).__name__}, not a torch.nn.Module")
    if request.weights:
        load_state_dict(module, request.weights, spec)
    args = example_inputs(request, spec)
    digest = hashlib.sha256(spec.encode())
    source_file = inspect.getsourcefile(factory)
    if source_file:
        digest.update(Path(source_file).read_bytes())
    if request.weights:
        digest.update(file_sha256(request.weights).encode())
    model = TorchModel(module.eval(), args, input_names(request, len(args), spec), digest.hexdigest())
    return model, SourceInfo(attribute, "torch-factory", spec, digest.hexdigest())
