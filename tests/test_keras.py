"""Keras 3 input: a depthwise CNN goes to ONNX (baseline + ONNX artifact) and natively to TFLite."""

from __future__ import annotations

import numpy as np
import pytest

from edgec.compiler.api import CompileOptions, compile
from edgec.compiler.errors import InputError
from edgec.compiler.frontends import SourceRequest, load_source

pytestmark = pytest.mark.slow  # compiles or clusters: run by CI, not by the quick subset (-m 'not slow')


@pytest.fixture(scope="module")
def keras_digits(tmp_path_factory):
    """A small Keras CNN with a depthwise conv, trained for a few seconds on the digits (channels-last)."""
    from edgec.compiler.quiet import import_tensorflow

    import_tensorflow()
    import keras

    from edgec.models.digits_data import load_split

    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("keras")
    x, y = load_split("train")
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), name="image"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.DepthwiseConv2D(3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 1, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.005),
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x.transpose(0, 2, 3, 1), y, epochs=30, batch_size=64, verbose=0)  # ~3 s, ~97% on eval
    model.save(folder / "digits_dw.keras")
    paths = {"model": folder / "digits_dw.keras"}
    for split in ("calib", "eval"):
        images, labels = load_split(split)
        paths[split] = folder / f"{split}.npz"
        np.savez(paths[split], image=images.transpose(0, 2, 3, 1), labels=labels)
    return paths


def _compile(paths, target, tmp_path, cache):
    return compile(
        CompileOptions(
            source=str(paths["model"]),
            target=target,
            calib=paths["calib"],
            eval=paths["eval"],
            output=tmp_path / target,
            cache_dir=cache,
            progress=False,
        )
    )


def test_keras_depthwise_cnn_for_rpi4_in_both_formats(keras_digits, tmp_path, session_cache):
    result = _compile(keras_digits, "rpi4", tmp_path, session_cache)
    report = result.report
    assert result.passed and report["source"]["kind"] == "keras"
    assert [rec["name"] for rec in report["import"]] == ["keras-to-onnx"]
    onnx_artifact, tflite_artifact = report["artifacts"]
    assert [p["name"] for p in tflite_artifact["passes"]] == ["keras-to-tf", "tflite"]  # native route, no onnx2tf
    assert tflite_artifact["layout"] == "same layout as the baseline"
    assert report["baseline"]["accuracy"] >= 0.95
    for artifact in (onnx_artifact, tflite_artifact):
        assert artifact["precision"] == "int8" and artifact["evaluation"]["accuracy_drop_points"] <= 1.0
    assert onnx_artifact["quantization"]["float_compute_ops"] == []
    assert report["cross_format"][0]["agreement"] >= 0.95


def test_keras_for_nano33ble_is_full_int8_with_int8_io(keras_digits, tmp_path, session_cache):
    result = _compile(keras_digits, "nano33ble", tmp_path, session_cache)
    (artifact,) = result.report["artifacts"]
    assert result.passed and artifact["file"] == "digits_dw.int8.tflite"
    assert set(artifact["conversion"]["io"].values()) == {"int8"} and artifact["conversion"]["float_activations"] == 0
    assert artifact["passes"][0]["config"] == {"batch_size": 1}  # static shapes for TFLite Micro
    assert "DEPTHWISE_CONV_2D" in artifact["ops"] and artifact["evaluation"]["accuracy_drop_points"] <= 1.0


def test_legacy_h5_and_corrupt_files(keras_digits, tmp_path):
    import keras

    keras.saving.load_model(keras_digits["model"]).save(tmp_path / "legacy.h5")
    model, info = load_source(SourceRequest(str(tmp_path / "legacy.h5")))
    assert info.kind == "keras" and model.model.count_params() > 0
    (tmp_path / "legacy.hdf5").write_bytes((tmp_path / "legacy.h5").read_bytes())  # the same file, its other name
    same, info = load_source(SourceRequest(str(tmp_path / "legacy.hdf5")))
    assert info.kind == "keras" and same.model.count_params() == model.model.count_params()
    (tmp_path / "broken.keras").write_bytes(b"not a zip archive")
    with pytest.raises(InputError, match=r"broken\.keras: not a Keras file \(a \.keras file is a zip archive"):
        load_source(SourceRequest(str(tmp_path / "broken.keras")))


@pytest.mark.parametrize(
    "mode, io",
    [("float32", "float32"), ("dynamic", "float32"), ("int8", "float32"), ("int8", "int8"), ("int8", "uint8")],
)
def test_every_tflite_mode_from_keras(keras_digits, mode, io):
    from conftest import make_context
    from edgec.compiler.data import load_dataset
    from edgec.compiler.passes.keras_export import KerasToOnnx, KerasToTf
    from edgec.compiler.passes.tflite import Tflite
    from edgec.compiler.progress import Progress
    from edgec.compiler.tflite_inspect import inspect_tflite
    from edgec.compiler.validation.evaluate import run_model
    from edgec.runtimes import metrics

    model, _ = load_source(SourceRequest(str(keras_digits["model"])))
    baseline = KerasToOnnx().run(model, make_context()).model
    data = load_dataset(keras_digits["eval"], baseline.inputs, "eval")
    calibration = load_dataset(keras_digits["calib"], baseline.inputs, "calib")
    artifact = (
        Tflite(mode=mode, io=io).run(KerasToTf().run(model, make_context()).model, make_context(calibration)).model
    )
    summary = inspect_tflite(artifact.flatbuffer)
    assert {t.dtype for t in summary.inputs + summary.outputs} == {io}
    assert (summary.float_activations() == []) == (mode == "int8")
    reference = run_model("onnxruntime", baseline.to_bytes(), data, 1, Progress(False), "float")
    run = run_model("litert", artifact.flatbuffer, data, 1, Progress(False), mode, artifact.layout)
    assert metrics.agreement(reference.outputs, run.outputs) >= (0.999 if mode == "float32" else 0.97)
