"""Frontends: every source form becomes a float ONNX model with the same numbers as the original."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from conftest import make_context
from edgec.compiler.errors import InputError
from edgec.compiler.frontends import SourceRequest, load_source
from edgec.compiler.kinds import OnnxModel
from edgec.compiler.passes.torch_to_onnx import TorchToOnnx
from edgec.runtimes.onnxruntime_runner import OnnxRuntimeRunner
from edgec.runtimes.runner import run_batched

SHAPE = ((1, 1, 8, 8),)


def _to_onnx(model) -> OnnxModel:
    return model if isinstance(model, OnnxModel) else TorchToOnnx().run(model, make_context()).model


def _assert_matches_torch(onnx_model: OnnxModel, module, data) -> None:
    runner = OnnxRuntimeRunner(onnx_model.to_bytes())
    (name,) = runner.input_names
    expected = module(torch.from_numpy(data[:8])).detach().numpy()
    outputs = run_batched(runner, {name: data[:8]})[0]  # batches of 1 when the program fixed its batch size
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-4)


def test_onnx_file(tiny_onnx, tiny_torch, tiny_data):
    _, path = tiny_onnx
    model, info = load_source(SourceRequest(str(path)))
    assert info.kind == "onnx" and info.name == "tiny" and len(info.sha256) == 64
    _assert_matches_torch(model, tiny_torch, tiny_data)


def test_onnx_with_external_data(tmp_path, tiny_onnx, tiny_torch, tiny_data):
    proto = onnx.load_from_string(tiny_onnx[0].to_bytes())
    onnx.save(proto, tmp_path / "ext.onnx", save_as_external_data=True, location="ext.onnx.data", size_threshold=0)
    assert (tmp_path / "ext.onnx.data").stat().st_size > 1000
    model, info = load_source(SourceRequest(str(tmp_path / "ext.onnx")))
    assert info.details["external_data_files"] == "1"
    _assert_matches_torch(model, tiny_torch, tiny_data)


@pytest.mark.parametrize("escape", ["dotdot", "absolute", "symlink"])
def test_external_data_outside_the_model_folder_is_refused(tmp_path, tiny_onnx, escape):
    """A model may only read data files beside it: `../`, an absolute path or a symlink pointing out of its
    folder would let a downloaded model read any file the user can."""
    proto = onnx.load_from_string(tiny_onnx[0].to_bytes())
    inner = tmp_path / "inner"
    inner.mkdir()
    onnx.save(proto, inner / "m.onnx", save_as_external_data=True, location="m.data", size_threshold=0)
    evil = onnx.load(inner / "m.onnx", load_external_data=False)
    (tmp_path / "m.data").write_bytes((inner / "m.data").read_bytes())
    if escape == "symlink":
        (inner / "link.data").symlink_to(tmp_path / "m.data")
    location = {"dotdot": "../m.data", "absolute": str(tmp_path / "m.data"), "symlink": "link.data"}[escape]
    for tensor in evil.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    onnx.save(evil, inner / "m.onnx")
    with pytest.raises(InputError, match=r"m\.onnx: .*outside the model's folder"):
        load_source(SourceRequest(str(inner / "m.onnx")))


def test_absurd_input_shape_is_refused_before_allocating(tmp_path):
    with pytest.raises(InputError, match=r"--input-shape 1,3,22400,22400: 1,505,280,000 elements .* absurd"):
        load_source(SourceRequest("edgec_test_models:make_wide", ((1, 3, 22400, 22400),)))
    with pytest.raises(InputError, match="must be positive integers"):
        load_source(SourceRequest("edgec_test_models:make_wide", ((1, 0, 8, 8),)))


def test_corrupt_and_missing_onnx(tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07this is not a protobuf" * 10)
    with pytest.raises(InputError, match=r"corrupt\.onnx: not a valid ONNX model"):
        load_source(SourceRequest(str(corrupt)))
    with pytest.raises(InputError, match=r"nope\.onnx: file not found"):
        load_source(SourceRequest(str(tmp_path / "nope.onnx")))


def test_torch_export_program(tmp_path, tiny_torch, tiny_data):
    path = tmp_path / "tiny.pt2"
    torch.export.save(torch.export.export(tiny_torch, (torch.zeros(1, 1, 8, 8),)), path)
    model, info = load_source(SourceRequest(str(path)))
    assert info.kind == "torch.export" and model.input_names == ("x",)
    onnx_model = _to_onnx(model)
    assert onnx_model.inputs[0].batch == 1  # the program's own static shape is kept
    _assert_matches_torch(onnx_model, tiny_torch, tiny_data)


def test_torchscript_needs_a_shape_then_exports(tmp_path, tiny_torch, tiny_data):
    path = tmp_path / "tiny.pt"
    torch.jit.script(tiny_torch).save(str(path))
    with pytest.raises(InputError, match="--input-shape"):
        load_source(SourceRequest(str(path)))
    model, info = load_source(SourceRequest(str(path), SHAPE))
    assert info.kind == "torchscript"
    onnx_model = _to_onnx(model)
    assert onnx_model.inputs[0].batch == "batch"  # dynamic batch survives the TorchScript exporter
    _assert_matches_torch(onnx_model, tiny_torch, tiny_data)


def test_pickled_module_needs_trust(tmp_path, tiny_torch, tiny_data):
    path = tmp_path / "pickled.pt"
    torch.save(tiny_torch, path)
    with pytest.raises(InputError, match="--trust-pickle"):
        load_source(SourceRequest(str(path), SHAPE))
    model, info = load_source(SourceRequest(str(path), SHAPE, trust_pickle=True))
    assert info.kind == "torch-pickle"
    _assert_matches_torch(_to_onnx(model), tiny_torch, tiny_data)


def test_factory_with_and_without_weights(tmp_path, tiny_torch, tiny_data):
    model, info = load_source(SourceRequest("edgec_test_models:make_tiny", SHAPE))
    assert info.kind == "torch-factory" and info.name == "make_tiny"
    _assert_matches_torch(_to_onnx(model), tiny_torch, tiny_data)

    state = {k: v * 0.5 for k, v in tiny_torch.state_dict().items()}
    weights = tmp_path / "half.pt"
    torch.save(state, weights)
    reweighted, _ = load_source(SourceRequest("edgec_test_models:make_tiny", SHAPE, weights=weights))
    assert reweighted.fingerprint != model.fingerprint  # new weights, new cache key
    assert torch.equal(reweighted.module.conv.weight, state["conv.weight"])


@pytest.mark.parametrize(
    "spec, message",
    [
        ("edgec_test_models:make_not_a_module", "not a torch.nn.Module"),
        ("edgec_test_models:missing", "has no attribute 'missing'"),
        ("no_such_module_xyz:make", "cannot import 'no_such_module_xyz'"),
    ],
)
def test_factory_errors(spec, message):
    with pytest.raises(InputError, match=message):
        load_source(SourceRequest(spec, SHAPE))


def test_factory_weights_must_be_a_matching_state_dict(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(InputError, match="does not match"):
        load_source(SourceRequest("edgec_test_models:make_tiny", SHAPE, weights=bad))


def test_unsupported_format(tmp_path):
    path = tmp_path / "model.caffemodel"
    path.write_bytes(b"x")
    with pytest.raises(InputError, match=r"unsupported model format '\.caffemodel'"):
        load_source(SourceRequest(str(path)))
