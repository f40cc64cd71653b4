"""Process-independent names in a SavedModel, so the same ONNX model always converts to the same bytes.

TensorFlow names every traced function (`__inference_<name>_<uid>`) and some graph inputs (`model_<uid>`) from
one process-wide counter that never resets. A conversion in a fresh `edgec compile` starts it at 0; the same
conversion inside a test session, a notebook or a sweep worker that traced other TF functions first starts it
at 534 or 9000. The SavedModel then differs only in those numbers, yet its fingerprint is the next pass's cache
key: a TFLite artifact built from it misses the cache in every other process, and a shared cache holds two
entries for one model.

The fix keeps the conversion in-process (a fresh interpreter per conversion costs seconds of TF import) and
renames afterwards: `reserve_uids` moves the counter to at least `UID_BASE` and returns where it stands, so every
number TF hands out during the conversion is >= that start and every graph-local counter (`Const_12`,
`add_3`) stays far below it; `canonical_saved_model` then maps each uid-sized number N to N - start + UID_BASE
in every name of saved_model.pb (`__inference_f_1000268`, a bare "1000268" as a user-specified name), the same
in every process.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

UID_BASE = 1_000_000  # above any graph-local name counter; burning up to it once per process costs ~0.1 s

_NUMBERED = re.compile(r"(?<![0-9])([0-9]{7,})(?![0-9])")  # uid-sized: >= UID_BASE, 7 digits or more
_RAW_BYTES = frozenset({"tensor_content"})  # tensor data, not names: never rewritten


def reserve_uids() -> int:
    """Advance TF's uid counter to >= UID_BASE and return the first uid the coming conversion can receive."""
    from tensorflow.python.framework import ops

    current = ops.uid()
    while current < UID_BASE:
        current = ops.uid()
    return current + 1


def canonical_saved_model(folder: Path, start: int) -> None:
    """Rewrite folder/saved_model.pb with every uid >= start renumbered from UID_BASE (same model, same bytes)."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = folder / "saved_model.pb"
    saved = saved_model_pb2.SavedModel.FromString(path.read_bytes())

    def renumber_one(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return match.group(0) if number < start else str(number - start + UID_BASE)

    def renumber(text: str) -> str:
        return _NUMBERED.sub(renumber_one, text)

    _rename_strings(saved, renumber)
    for meta_graph in saved.meta_graphs:  # TF writes the function library in name order: the old names' order
        library = meta_graph.graph_def.library
        functions = sorted(library.function, key=lambda function: function.signature.name)
        del library.function[:]
        library.function.extend(functions)
    path.write_bytes(saved.SerializeToString(deterministic=True))


def _rename_strings(message: Any, rename: Callable[[str], str]) -> None:
    """Apply `rename` to every name-like string in a protobuf message, map keys included, in place."""
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            _rename_map(value, field.message_type.fields_by_name["value"], rename)
        elif field.type == field.TYPE_MESSAGE:
            for item in value if field.is_repeated else [value]:
                _rename_strings(item, rename)
        elif field.type in (field.TYPE_STRING, field.TYPE_BYTES) and field.name not in _RAW_BYTES:
            convert = _text_converter(field.type == field.TYPE_BYTES, rename)
            if field.is_repeated:
                value[:] = [convert(item) for item in value]
            else:
                setattr(message, field.name, convert(value))


def _rename_map(mapping: Any, value_field: Any, rename: Callable[[str], str]) -> None:
    for key in list(mapping.keys()):
        new_key = rename(key) if isinstance(key, str) else key
        if value_field.type == value_field.TYPE_MESSAGE:
            _rename_strings(mapping[key], rename)
            if new_key != key:
                mapping[new_key].CopyFrom(mapping[key])
                del mapping[key]
        else:
            item = mapping[key]
            if isinstance(item, str):
                item = rename(item)
            del mapping[key]
            mapping[new_key] = item


def _text_converter(is_bytes: bool, rename: Callable[[str], str]) -> Callable[[Any], Any]:
    """Bytes fields hold names too (attr `s`, checkpoint keys): rename them as latin-1 text, byte for byte."""
    if not is_bytes:
        return rename
    return lambda data: rename(data.decode("latin-1")).encode("latin-1")
