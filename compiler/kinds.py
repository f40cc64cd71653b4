"""Model kinds: the explicit types that flow between passes.

A pass declares which kind it accepts and which it produces, so a pipeline can be checked before anything
runs. Kinds also own their fingerprint (the cache key of their content) and, where possible, their
serialization for the cache. Heavy libraries are imported lazily so `import edgec` stays cheap.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import onnx
    import torch


@dataclass(frozen=True)
class TensorSpec:
    """Name, per-sample shape (batch dimension excluded) and numpy dtype name of one model input/output."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str
    batch: int | str | None = None  # the leading dimension as the model declares it


class Model:
    """Base of all model kinds."""

    kind: ClassVar[str]

    @property
    def fingerprint(self) -> str:  # pragma: no cover - every kind overrides
        raise NotImplementedError

    def to_bytes(self) -> bytes | None:
        """Serialized form for the cache, or None when the kind cannot be cached."""
        return None

    def artifact_bytes(self) -> bytes:
        """The deliverable file's bytes (what a runtime loads), which may differ from the cache form."""
        data = self.to_bytes()
        if data is None:
            raise TypeError(f"a {self.kind} model is not a deliverable artifact")
        return data


@dataclass(eq=False)
class TorchModel(Model):
    """An nn.Module in eval mode with example inputs; fingerprinted by its source, not its content."""

    kind: ClassVar[str] = "torch"
    module: torch.nn.Module
    example_inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    source_fingerprint: str

    @cached_property
    def fingerprint(self) -> str:
        """Source hash plus the weights' bytes and the module's structure: a factory may load weights from
        files the source hash does not cover, and those must invalidate the cache too."""
        digest = hashlib.sha256(self.source_fingerprint.encode())
        shapes = [tuple(t.shape) for t in self.example_inputs]
        digest.update(f"{self.input_names}:{shapes}:{self.module!r}".encode())
        state = self.module.state_dict  # a method on nn.Module, a plain dict on torch.export programs
        for name, tensor in sorted((state() if callable(state) else state).items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()


@dataclass(eq=False)
class KerasModel(Model):
    """A Keras 3 model object, fingerprinted by its source file; its layout is its own (channels-last)."""

    kind: ClassVar[str] = "keras"
    model: Any
    source_fingerprint: str

    @property
    def fingerprint(self) -> str:
        return _sha256(f"keras:{self.source_fingerprint}".encode())


@dataclass(eq=False)
class OnnxModel(Model):
    """An in-memory ONNX ModelProto with all weights inline (external data already loaded)."""

    kind: ClassVar[str] = "onnx"
    proto: onnx.ModelProto
    notes: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def _bytes(self) -> bytes:
        return self.proto.SerializeToString(deterministic=True)

    def to_bytes(self) -> bytes:
        return self._bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> OnnxModel:
        import onnx

        return cls(onnx.load_from_string(data))

    @property
    def fingerprint(self) -> str:
        return _sha256(self._bytes)

    @property
    def inputs(self) -> list[TensorSpec]:
        initializers = {init.name for init in self.proto.graph.initializer}
        return [_spec(v) for v in self.proto.graph.input if v.name not in initializers]

    @property
    def outputs(self) -> list[TensorSpec]:
        return [_spec(v) for v in self.proto.graph.output]

    def editable_copy(self) -> tuple[onnx.ModelProto, dict[str, Any]]:
        """A deep copy of the proto to edit in place (this model stays as it is), and its initializers by name."""
        import onnx

        proto = onnx.ModelProto()
        proto.CopyFrom(self.proto)
        return proto, {init.name: init for init in proto.graph.initializer}

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.proto.graph.node:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
        return dict(sorted(counts.items()))


KIND_NAMES = ("torch", "keras", "onnx", "tf", "tflite")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _spec(value: onnx.ValueInfoProto) -> TensorSpec:
    import onnx

    tensor_type = value.type.tensor_type
    dims: list[int | str] = [
        d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor_type.shape.dim
    ]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name
    batch = dims[0] if dims else None
    return TensorSpec(value.name, tuple(dims[1:]), dtype, batch)
