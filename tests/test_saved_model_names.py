"""The onnx-to-tf pass gives the same SavedModel bytes whatever TF traced before it in the process.

CI once failed here: a test worker that had converted other models first stored a SavedModel whose function
names carried other uids than a fresh `edgec compile` process's, so one ONNX model had two cache entries and the
TFLite pass after it missed the cache across processes.
"""

from __future__ import annotations

import io
import tarfile

import numpy as np

from conftest import make_context


def _convert(onnx_model):
    from edgec.compiler.passes.onnx_to_tf import OnnxToTf

    return OnnxToTf().run(onnx_model, make_context(target="rpi4")).model


def _trace_unrelated_functions(count: int) -> None:
    """What a notebook, a sweep worker or another test does first: advance TF's process-wide uid counter."""
    import tensorflow as tf

    for size in range(1, count + 1):
        tf.function(lambda x: x * 2.0)(tf.zeros([size]))


def test_same_onnx_gives_same_saved_model_bytes_after_unrelated_tracing(tiny_onnx):
    onnx_model, _ = tiny_onnx
    first = _convert(onnx_model)
    _trace_unrelated_functions(7)
    second = _convert(onnx_model)
    assert first.fingerprint == second.fingerprint
    assert first.saved_model == second.saved_model
    with tarfile.open(fileobj=io.BytesIO(first.saved_model)) as archive:
        members = archive.getnames()
    assert "saved_model.pb" in members
    assert not [name for name in members if name.endswith(".tflite")], members  # onnx2tf's byproducts not cached


def test_renumbered_saved_model_still_converts_and_computes_the_model(tiny_onnx, tiny_data):
    """The renaming touches every name in the graph; the TFLite converter must still read it and agree with ONNX."""
    import onnxruntime as ort

    from edgec.compiler.passes.tflite import Tflite
    from edgec.runtimes.litert_runner import LiteRtRunner

    onnx_model, path = tiny_onnx
    _trace_unrelated_functions(3)
    flat = Tflite(mode="float32").run(_convert(onnx_model), make_context(target="rpi4")).model
    baseline_inputs = {"image": tiny_data[:8]}
    got = LiteRtRunner(flat.flatbuffer).run(flat.layout.feeds(baseline_inputs))[0]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = session.run(None, baseline_inputs)[0]
    np.testing.assert_allclose(flat.layout.first_output_as_baseline(got), want, rtol=1e-4, atol=1e-5)
