"""ONNX files, including weights stored in external-data files beside the model.

External-data references are resolved only inside the model's own folder: a model must not be able to
make edgec read `../../secret` or an absolute path.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import InputError, clip, require
from ..kinds import OnnxModel
from .source import SourceInfo


def load_onnx(path: Path) -> tuple[OnnxModel, SourceInfo]:
    onnx = require("onnx")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise InputError(
            f"{path}: not a valid ONNX model ({type(exc).__name__}: {clip(str(exc), 200)}); "
            "re-export it or check the file was copied completely"
        ) from None
    digest = hashlib.sha256(path.read_bytes())
    external = _external_files(proto, path)
    for file in external:
        digest.update(file.read_bytes())
    if external:
        try:
            onnx.external_data_helper.load_external_data_for_model(proto, str(path.parent))
        except Exception as exc:  # onnx checks offsets and lengths against the file, each error its own type
            raise InputError(
                f"{path}: cannot read its external data ({type(exc).__name__}: {clip(str(exc), 200)}); "
                "re-save the model with its data files"
            ) from None
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise InputError(f"{path}: invalid ONNX model ({str(exc).splitlines()[0][:300]})") from None
    if not proto.graph.input:
        raise InputError(f"{path}: the model has no inputs")
    _check_io_types(proto, path)
    details = {
        "opset": str(max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)),
        "external_data_files": str(len(external)),
    }
    return OnnxModel(proto), SourceInfo(path.stem, "onnx", str(path), digest.hexdigest(), details)


def _external_files(proto, path: Path) -> list[Path]:
    """The external-data files the model references, each checked to stay inside the model's folder."""
    onnx = require("onnx")
    folder = path.parent.resolve()
    files: set[Path] = set()
    for tensor in onnx.external_data_helper._get_all_tensors(proto):
        if not onnx.external_data_helper.uses_external_data(tensor):
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        if not isinstance(location, str) or "\0" in location:  # protobuf hands back non-UTF-8 text as bytes
            raise InputError(
                f"{path}: tensor {tensor.name!r} has external data location {location!r}, not a valid UTF-8 path"
            )
        resolved = (folder / location).resolve()
        if os.path.isabs(location) or not resolved.is_relative_to(folder):
            raise InputError(
                f"{path}: tensor {tensor.name!r} points at external data {location!r} outside the "
                "model's folder; refusing to read it"
            )
        if not resolved.is_file():
            raise InputError(
                f"{path}: external data file {location!r} for tensor {tensor.name!r} is missing; "
                "copy it next to the model"
            )
        files.add(resolved)
    return sorted(files)


def _check_io_types(proto, path: Path) -> None:
    """Every graph input and output must be a tensor of a known element type: the checker lets others pass,
    and everything after loading reads them as numpy dtypes."""
    onnx = require("onnx")
    initializers = {init.name for init in proto.graph.initializer}
    for kind, values in (("input", proto.graph.input), ("output", proto.graph.output)):
        for value in values:
            if value.name in initializers:
                continue
            elem_type = value.type.tensor_type.elem_type if value.type.HasField("tensor_type") else 0
            try:
                onnx.helper.tensor_dtype_to_np_dtype(elem_type)
            except KeyError:
                raise InputError(
                    f"{path}: graph {kind} {value.name!r} is not a tensor of a known element type "
                    f"(type {elem_type}); edgec compiles models whose inputs and outputs are plain tensors"
                ) from None
