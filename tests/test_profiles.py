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
    with pytest.raises(ProfileError, match="known targets: coral-edgetpu, host-x86, nano33ble, rpi4, rpi5, stm32h7"):
        load_profile("jetson-tx1")


def test_targets_cli_list_and_show():
    listing = run_cli("targets", "list")
    assert listing.returncode == 0 and "rpi4" in listing.stdout and "host-x86" in listing.stdout
    shown = run_cli("targets", "show", "rpi4")
    assert shown.returncode == 0
    assert "cortex-a72" in shown.stdout and "activations int8" in shown.stdout
    missing = run_cli("targets", "show", "rpi3")
    assert missing.returncode == 2 and "known targets" in missing.stderr
