"""Which kernels actually ran: the fast path is a measurement, not an assumption.

A model that silently falls back to float kernels (a QDQ pair ONNX Runtime could not fuse, an op XNNPACK
does not take) is slower on the device with nothing in the latency number saying why. ONNX Runtime's profiler
names the kernel each node ran; LiteRT's execution plan shows the delegate's partitions and the input type
of every remaining op.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

# kernels that compute in 8-bit integers (ONNX Runtime's fused QDQ forms and integer ops)
ORT_INT8 = {
    "QLinearConv",
    "QLinearMatMul",
    "QGemm",
    "MatMulInteger",
    "ConvInteger",
    "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul",
    "QLinearAdd",
    "QLinearMul",
    "QLinearAveragePool",
    "QLinearGlobalAveragePool",
    "QLinearConcat",
    "QLinearSigmoid",
    "QLinearLeakyRelu",
    "QLinearSoftmax",
}
# float kernels whose cost matters: one of these in an int8 artifact is a fallback
FLOAT_COMPUTE = {"Conv", "ConvTranspose", "Gemm", "MatMul", "FusedConv", "FusedGemm", "FusedMatMul"}
TFLITE_COMPUTE = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL", "CONV_3D"}


def onnxruntime_kernels(model: bytes, feeds: dict[str, np.ndarray], threads: int, int8: bool) -> dict[str, Any]:
    """Run once under ORT's profiler and count the kernel (op type, provider) each node executed; the fast
    path of an int8 artifact is integer kernels with no float compute left."""
    import onnxruntime as ort

    folder = tempfile.mkdtemp(prefix="edgec-profile-")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(folder, "run")
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    session.run(None, feeds)
    profile = Path(session.end_profiling())
    events = json.loads(profile.read_text())
    profile.unlink()
    os.rmdir(folder)
    kernels = Counter(
        f"{event['args'].get('op_name')}@{event['args'].get('provider', '?').replace('ExecutionProvider', '')}"
        for event in events
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time")
    )
    ops = Counter(kernel.split("@")[0] for kernel in kernels.elements())
    integer = sum(n for op, n in ops.items() if op in ORT_INT8)
    floats = sorted(op for op in ops if op in FLOAT_COMPUTE)
    return {
        "kernels": dict(sorted(kernels.items())),
        "int8_kernels": integer,
        "float_compute_kernels": floats,
        "delegate": None,
        "fast_path": (integer > 0 and not floats) if int8 else True,
    }


def litert_kernels(interpreter: Any, int8: bool) -> dict[str, Any]:
    """The execution plan after delegation: DELEGATE nodes are XNNPACK partitions; the rest ran as built-ins.
    The fast path is XNNPACK applied, and for an int8 artifact no compute op reading floats."""
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()  # the only API that lists the plan; stable since TF 2.3
    plan = Counter(op["op_name"] for op in ops)
    integer, floats = 0, []
    for op in ops:
        if op["op_name"] not in TFLITE_COMPUTE or not len(op["inputs"]):
            continue
        first = tensors.get(int(op["inputs"][0]))
        if first is not None and np.issubdtype(first["dtype"], np.integer):
            integer += 1
        else:
            floats.append(op["op_name"])
    partitions = plan.get("DELEGATE", 0)
    return {
        "kernels": dict(sorted(plan.items())),
        "int8_kernels": integer,
        "float_compute_kernels": sorted(floats),
        "delegate": {"name": "XNNPACK", "partitions": partitions} if partitions else None,
        "fast_path": bool(partitions) and (not floats or not int8),
    }


def tflm_kernels(ops: list[tuple[str, bool]], int8: bool) -> dict[str, Any]:
    """TFLite Micro has no delegate: every op runs the kernel the firmware links (CMSIS-NN, ESP-NN or the
    reference), and those libraries accelerate integer ops only. The fast path of an int8 artifact is integer
    compute ops with no float one left; `ops` is the plan as (builtin name, first input is an integer)."""
    plan = Counter(name for name, _ in ops)
    integer = sum(1 for name, is_int in ops if name in TFLITE_COMPUTE and is_int)
    floats = sorted(name for name, is_int in ops if name in TFLITE_COMPUTE and not is_int)
    return {
        "kernels": dict(sorted(plan.items())),
        "int8_kernels": integer,
        "float_compute_kernels": floats,
        "delegate": None,
        "fast_path": (integer > 0 and not floats) if int8 else True,
    }
