"""torch -> ONNX with torch.onnx, keeping the batch dimension dynamic where the model allows it.

Weights stay inline (external_data=False) so the model is one object the cache can hash. nn.Modules and
torch.export programs go through the dynamo exporter (its optimizer already folds BatchNorm into
convolutions); TorchScript modules need the TorchScript exporter. A dynamic batch lets calibration and
evaluation run in batches; when a model bakes its batch size in, export falls back to the static shape and
records why.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ToolchainError, clip, require
from ..kinds import Model, OnnxModel, TorchModel
from ..quiet import quiet_loggers
from .base import Context, Pass, PassResult


@dataclass(frozen=True)
class TorchToOnnx(Pass):
    name: ClassVar[str] = "torch-to-onnx"
    accepts: ClassVar[str] = "torch"
    produces: ClassVar[str] = "onnx"
    libraries: ClassVar[tuple[str, ...]] = ("torch", "onnxscript", "onnx")

    opset: int = 18
    dynamic_batch: bool = True

    def run(self, model: Model, ctx: Context) -> PassResult:
        assert isinstance(model, TorchModel)
        torch = require("torch")
        require("onnxscript")
        details: dict[str, Any] = {}
        # torch.onnx logs every absent torchvision op, onnxscript's folder every multi-output op it skips
        with warnings.catch_warnings(), quiet_loggers("torch.onnx", "onnxscript"):
            warnings.simplefilter("ignore")
            if isinstance(model.module, torch.jit.ScriptModule):
                proto = self._export_torchscript(torch, model)
                details["exporter"] = "torchscript"
            elif isinstance(model.module, torch.export.ExportedProgram):
                proto = _dynamo(torch, model, None, self.opset)  # the program's own shapes are final
                details["exporter"] = "dynamo (torch.export program)"
            else:
                proto, details = self._export_module(torch, model)
        return PassResult(OnnxModel(proto), modified=True, details=details)

    def _export_module(self, torch: Any, model: TorchModel) -> tuple[Any, dict[str, Any]]:
        if self.dynamic_batch:
            batch = torch.export.Dim("batch")
            try:
                shapes = tuple({0: batch} for _ in model.example_inputs)
                return _dynamo(torch, model, shapes, self.opset), {"exporter": "dynamo", "batch": "dynamic"}
            except ToolchainError as exc:
                reason = clip(str(exc))
        else:
            reason = "dynamic_batch=false"
        return _dynamo(torch, model, None, self.opset), {"exporter": "dynamo", "batch": f"static ({reason})"}

    def _export_torchscript(self, torch: Any, model: TorchModel) -> Any:
        import io

        onnx = require("onnx")
        buffer = io.BytesIO()
        axes = {name: {0: "batch"} for name in model.input_names} if self.dynamic_batch else None
        try:
            torch.onnx.export(
                model.module,
                model.example_inputs,
                buffer,
                dynamo=False,
                input_names=list(model.input_names),
                dynamic_axes=axes,
                opset_version=self.opset,
            )
        except Exception as exc:
            raise ToolchainError(f"TorchScript export failed: {type(exc).__name__}: {clip(str(exc))}") from exc
        return onnx.load_from_string(buffer.getvalue())


def _dynamo(torch: Any, model: TorchModel, dynamic_shapes: Any, opset: int) -> Any:
    try:
        program = torch.onnx.export(
            model.module,
            model.example_inputs,
            dynamo=True,
            external_data=False,
            input_names=list(model.input_names),
            dynamic_shapes=dynamic_shapes,
            opset_version=opset,
            verbose=False,
        )
    except Exception as exc:
        raise ToolchainError(f"torch.onnx.export failed: {type(exc).__name__}: {clip(str(exc))}") from exc
    return program.model_proto
