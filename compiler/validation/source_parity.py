"""Export parity: the source torch module against the float ONNX baseline, on real evaluation samples.

Every later comparison is made against the ONNX baseline, so the export itself must be shown not to have
changed the model; converters that do not verify their output are a known failure of the field.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtimes import metrics
from ..data import Dataset
from ..errors import require
from ..kinds import TorchModel


def torch_parity(model: TorchModel, baseline_outputs: np.ndarray, data: Dataset, limit: int = 64) -> dict[str, Any]:
    """Run the torch module on the first `limit` samples and compare its first output with the baseline's."""
    torch = require("torch")
    module = model.module.module() if isinstance(model.module, torch.export.ExportedProgram) else model.module
    count = min(limit, len(data))
    step = int(model.example_inputs[0].shape[0])  # programs may have a fixed batch size; keep to it
    outputs = []
    with torch.no_grad():
        for start in range(0, count - count % step, step):
            args = [torch.from_numpy(data.inputs[name][start : start + step]) for name in model.input_names]
            result = module(*args)
            outputs.append((result[0] if isinstance(result, tuple | list) else result).numpy())
    reference = np.concatenate(outputs)
    candidate = baseline_outputs[: len(reference)]
    return {
        "samples": len(reference),
        "max_abs": metrics.max_abs(reference, candidate),
        "cosine": metrics.cosine(reference, candidate),
        "agreement": metrics.agreement(reference, candidate),
    }
