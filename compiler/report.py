"""report.json and manifest.json: the record of a build (report.md is a view of it, in report_md.py).

The schema is versioned (`schema_version`) so CI scripts that read reports can rely on field names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import platform
import zlib
from typing import TYPE_CHECKING, Any

from .cache import library_versions
from .engine import PassRecord
from .macs import total_macs

if TYPE_CHECKING:
    from .data import Dataset
    from .frontends.source import SourceInfo
    from .kinds import Model
    from .pipeline import ArtifactPlan
    from .validation.evaluate import Evaluation

# 1.1: latency, macs, io_layout, trace, rmse/mae, confusion_delta; 1.2: device_runs; 1.3: cost; 1.4: output_kind,
# gate.min_sqnr_db and sqnr_db checks, agreement null for regression outputs, failed_artifacts
SCHEMA_VERSION = "1.4"
TOOLS = (
    "numpy",
    "onnx",
    "onnxruntime",
    "onnxscript",
    "onnxslim",
    "torch",
    "tensorflow",
    "tf_keras",
    "keras",
    "onnx2tf",
    "tf2onnx",
    "ai-edge-litert",
    "tflite-micro",
)


def tool_versions() -> dict[str, str]:
    return {"python": platform.python_version(), **library_versions(TOOLS)}


def records(passes: list[PassRecord]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(r) for r in passes]


def stages(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every pass record of a build as (stage, record): the import stage first, then each artifact's."""
    pairs = [("import", rec) for rec in report["import"]]
    return pairs + [(art["name"], rec) for art in report["artifacts"] for rec in art["passes"]]


def data_entry(data: Dataset | None) -> dict[str, Any]:
    if data is None:
        return {}
    return {
        "source": data.source,
        "samples": len(data),
        "labels": data.labels is not None,
        "sha256": data.sha256,
        "held_out": data.held_out,
        # streamed step by step on each model's own states: (output index, state input) per state
        "streamed_states": [list(pair) for pair in data.states],
    }


def artifact_entry(
    file: str,
    plan: ArtifactPlan,
    artifact: Model,
    passes: list[PassRecord],
    evaluation: Evaluation,
    float_size: int,
) -> dict[str, Any]:
    data = artifact.artifact_bytes()
    layout = getattr(artifact, "layout", None)
    return {
        "name": plan.artifact.name,
        "file": file,
        "format": plan.artifact.format,
        "runtime": plan.artifact.runtime,
        "precision": plan.precision,
        "pipeline": ",".join(p.spec() for p in plan.passes),
        "size_bytes": len(data),
        "compressed_bytes": len(zlib.compress(data, 9)),  # what a compressed flash image holds: sparsity shows here
        "size_ratio": round(len(data) / float_size, 4),
        "macs": total_macs(artifact),  # batch 1, Conv/Gemm/MatMul: the compute a device must do
        "sha256": hashlib.sha256(data).hexdigest(),
        "ops": artifact.op_counts(),  # type: ignore[attr-defined]
        "layout": layout.describe() if layout else "same layout as the baseline",
        "io_layout": layout.to_dict() if layout else None,  # how to feed it baseline-layout data, for runners
        "quantization": next((r.details for r in passes if r.name == "quantize"), {}),
        "conversion": next((r.details for r in passes if r.name == "tflite"), {}),
        "passes": records(passes),
        "evaluation": dataclasses.asdict(evaluation),
    }


def manifest(report: dict[str, Any], info: SourceInfo, files: dict[str, bytes]) -> dict[str, Any]:
    """Hashes of everything that went in and came out, so a build can be verified and reproduced."""
    return {
        "edgec_version": report["edgec_version"],
        "target": report["target"]["id"],
        "host": report.get("host"),
        "inputs": {
            "model": {"location": info.location, "sha256": info.sha256},
            "calibration": report["data"]["calibration"].get("sha256"),
            "evaluation": report["data"]["evaluation"].get("sha256"),
        },
        "files": manifest_files(files),
        "pipeline": {a["name"]: a["pipeline"] for a in report["artifacts"]},
        "tools": report["tools"],
        "timings": {
            "total_s": report["seconds"],
            "passes": {f"{stage}:{rec['name']}": rec["seconds"] for stage, rec in stages(report)},
        },
    }


def manifest_files(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in files.items()}


def verification_text(artifact: dict[str, Any]) -> str:
    """What reading the artifact back showed: int8 compute ops (ONNX) or integer-only tensors and IO (TFLite)."""
    quant, conversion = artifact.get("quantization") or {}, artifact.get("conversion") or {}
    if quant:
        total = quant["quantized_compute_ops"] + len(quant["float_compute_ops"])
        left = ", ".join(quant["float_compute_ops"]) or "none"
        return f"{quant['quantized_compute_ops']}/{total} compute ops int8 (float: {left})"
    if conversion:
        io = sorted(set(conversion["io"].values()))
        return f"{conversion['float_activations']} float activations, IO {'/'.join(io)}, {artifact['layout']}"
    return "float model"
