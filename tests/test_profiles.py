"""Target profiles: every shipped profile loads, decisions follow the facts, bad files fail clearly."""

from __future__ import annotations

import pytest

from conftest import run_cli
from edgec.targets.profile import PROFILE_DIR, ProfileError, known_targets, load_profile


def test_shipped_profiles_load_with_their_facts():
    assert {"host-x86", "rpi4", "rpi5"} <= set(known_targets())
    rpi4 = load_profile("rpi4")
    assert rpi4.cpu.arch == "aarch64" and rpi4.cpu.cores == 4 and "dotprod" not in rpi4.cpu.features
    assert load_profile("rpi5").cpu.features.count("dotprod") == 1
    for name in known_targets():
        profile = load_profile(name)
        assert profile.artifacts and profile.quantization.why, name
        assert 0 < profile.budgets.max_accuracy_drop <= 5


def test_activation_dtype_is_a_per_target_decision():
    assert load_profile("host-x86").quantization.activations == "uint8"  # U8S8 is fast with VNNI
    assert load_profile("rpi4").quantization.activations == "int8"  # matches XNNPACK's signed path
    assert load_profile("rpi5").quantization.activations == "int8"


def _planned(target: str) -> dict[str, dict]:
    """Each pass the target's first artifact runs, by name, with the options the profile filled in."""
    from edgec.compiler.pipeline import Overrides, plan_artifacts

    plan = plan_artifacts(load_profile(target), Overrides())[0]
    return {p.name: p.config() for p in plan.passes}


def test_jetson_nano_ships_fp16_for_tensorrt():
    """Maxwell: fp16 is the fast path and there is no useful int8, so nothing is quantized."""
    profile = load_profile("jetson-nano")
    assert (profile.cpu.core, profile.cpu.cores, profile.memory.ram_mb, profile.threads) == ("cortex-a57", 4, 4096, 4)
    (artifact,) = profile.artifacts
    assert (artifact.format, artifact.runtime, artifact.pipeline) == ("onnx", "onnxruntime", "cleanup,fp16")
    assert list(_planned("jetson-nano")) == ["cleanup", "fp16"]
    assert profile.constraints.compile_command == "trtexec --onnx={artifact} --fp16 --saveEngine=model.plan"
    assert profile.published == {"ssd_mobilenet_v2_trt_ms": 72.3} and profile.unverified


def test_jetson_orin_nano_quantizes_the_way_tensorrt_reads_qdq():
    """TensorRT's explicit quantization: signed int8, zero points 0, per-channel weights, float biases."""
    profile = load_profile("jetson-orin-nano")
    assert (profile.cpu.core, profile.cpu.cores, profile.memory.ram_mb) == ("cortex-a78ae", 6, 8192)
    quantize = _planned("jetson-orin-nano")["quantize"]
    assert quantize["activations"] == quantize["weights"] == "int8"
    assert quantize["symmetric_activations"] and quantize["per_channel"] and not quantize["quantize_bias"]
    assert profile.constraints.compile_command == "trtexec --onnx={artifact} --int8 --fp16 --saveEngine=model.plan"
    assert not _planned("rpi4")["quantize"]["symmetric_activations"]  # the default stays asymmetric


def test_esp32s3_is_a_full_int8_microcontroller():
    profile = load_profile("esp32s3")
    assert (profile.cpu.arch, profile.cpu.cores, profile.cpu.clock_ghz, profile.threads) == ("xtensa", 2, 0.24, 1)
    assert profile.quantization.io == "int8" and _planned("esp32s3")["tflite"]["io"] == "int8"
    constraints = profile.constraints
    assert constraints.static_shapes and constraints.allowed_ops == load_profile("nano33ble").constraints.allowed_ops
    assert 0 < constraints.ram_kb < 512 and 0 < constraints.flash_kb < 4096  # shares of the SRAM and the flash


def _write(tmp_path, text: str):
    source = (PROFILE_DIR / "rpi4.toml").read_text()
    path = tmp_path / "custom.toml"
    path.write_text(text(source) if callable(text) else text)
    return path


def test_unknown_key_is_an_error_with_a_suggestion(tmp_path):
    path = _write(tmp_path, lambda s: s.replace("max_accuracy_drop", "max_acuracy_drop"))
    with pytest.raises(ProfileError, match="unknown key 'max_acuracy_drop' \\(did you mean 'max_accuracy_drop'"):
        load_profile(str(path))


def test_wrong_type_missing_key_and_bad_choice(tmp_path):
    with pytest.raises(ProfileError, match="cores: expected int"):
        load_profile(str(_write(tmp_path, lambda s: s.replace("cores = 4", 'cores = "four"'))))
    with pytest.raises(ProfileError, match="missing required key"):
        load_profile(str(_write(tmp_path, lambda s: s.replace('id = "rpi4"', ""))))
    with pytest.raises(ProfileError, match="activations = 'int4' is not one of"):
        load_profile(str(_write(tmp_path, lambda s: s.replace('activations = "int8"', 'activations = "int4"'))))


def test_a_user_profile_file_can_be_used_as_target(tmp_path):
    path = _write(tmp_path, lambda s: s.replace('id = "rpi4"', 'id = "my-board"'))
    assert load_profile(str(path)).id == "my-board"


def test_unknown_target_lists_the_known_ones():
    known = "coral-edgetpu, esp32s3, host-x86, jetson-nano, jetson-orin-nano, nano33ble, rpi4, rpi5, stm32h7"
    with pytest.raises(ProfileError, match=f"known targets: {known}"):
        load_profile("jetson-tx1")


def test_targets_cli_list_and_show():
    listing = run_cli("targets", "list")
    assert listing.returncode == 0 and "rpi4" in listing.stdout and "host-x86" in listing.stdout
    shown = run_cli("targets", "show", "rpi4")
    assert shown.returncode == 0
    assert "cortex-a72" in shown.stdout and "activations int8" in shown.stdout
    missing = run_cli("targets", "show", "rpi3")
    assert missing.returncode == 2 and "known targets" in missing.stderr
