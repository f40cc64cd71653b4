"""torch files: `.pt2` torch.export programs and `.pt` TorchScript archives.

A plain pickled nn.Module (`torch.save(model)`) can run arbitrary code when loaded, so it is loaded only
with --trust-pickle; otherwise the error says how to re-save the model safely.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, clip, require
from ..kinds import TorchModel
from ..quiet import held_records
from .source import SourceInfo, SourceRequest
from .torch_common import example_inputs, file_sha256, input_names, load_state_dict


def load_exported_program(path: Path, request: SourceRequest) -> tuple[TorchModel, SourceInfo]:
    torch = require("torch")
    _exists(path)
    with held_records("torch.export") as records:  # its warnings quote a traceback: the error says it in one line
        try:
            program = torch.export.load(str(path))
        except Exception as exc:
            cause = next((r.exc_info[1] for r in records if r.exc_info and r.exc_info[1]), None) or exc
            reason = str(cause).splitlines()[0].split(". ")[0] if str(cause).strip() else ""
            raise InputError(
                f"{path}: not a torch.export program ({type(cause).__name__}: {reason[:200]}); save one with "
                "torch.export.save"
            ) from None
    args = program.example_inputs[0] if program.example_inputs else ()
    if not args:
        args = example_inputs(request, str(path))
    names = tuple(
        spec.arg.name
        for spec in program.graph_signature.input_specs
        if spec.kind == torch.export.graph_signature.InputKind.USER_INPUT
    )
    names = input_names(request, len(args), str(path)) if request.input_names else names
    digest = file_sha256(path)
    model = TorchModel(program, tuple(args), names, digest)
    return model, SourceInfo(path.stem, "torch.export", str(path), digest)


def load_torchscript(path: Path, request: SourceRequest) -> tuple[TorchModel, SourceInfo]:
    torch = require("torch")
    _exists(path)
    kind = "torchscript"
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception:
        if not request.trust_pickle:
            raise InputError(
                f"{path}: not a TorchScript archive. If it is a pickled nn.Module, loading it can run "
                "arbitrary code: re-save it with torch.jit.script(...).save() or torch.export.save, "
                "or pass --trust-pickle if you trust its author"
            ) from None
        module = _load_pickled_module(torch, path)
        kind = "torch-pickle"
    if request.weights:
        load_state_dict(module, request.weights, str(path))
    args = example_inputs(request, str(path))
    digest = file_sha256(path) + (file_sha256(request.weights) if request.weights else "")
    model = TorchModel(module.eval(), args, input_names(request, len(args), str(path)), digest)
    return model, SourceInfo(path.stem, kind, str(path), file_sha256(path))


def _load_pickled_module(torch, path: Path):
    try:
        module = torch.load(path, map_location="cpu", weights_only=False)  # the user passed --trust-pickle
    except Exception as exc:
        raise InputError(f"{path}: cannot load ({type(exc).__name__}: {clip(str(exc), 200)})") from None
    if not isinstance(module, torch.nn.Module):
        raise InputError(
            f"{path}: holds a {type(module).__name__}, not an nn.Module; a state_dict needs "
            "a factory: edgec compile pkg.module:make_model --weights FILE"
        )
    return module


def _exists(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
