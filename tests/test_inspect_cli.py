"""`edgec inspect`: the cost analysis without a compile, for a source model or a built artifact."""

from __future__ import annotations

import json
import shutil

from conftest import run_cli
from edgec.targets.profile import PROFILE_DIR


def test_inspect_demo_on_rpi4_prints_budgets_and_costliest_layers():
    done = run_cli("inspect", "--target", "rpi4", "--layers", "2")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "digits-cnn (float32 ONNX export) on rpi4" in out and "2.38 M MACs" in out
    assert "fits  RAM needed" in out and "available 512.00 MiB" in out and "latency estimated" in out
    assert out.count("\nnode_Conv_5") == 2 and "8 more (--layers 0 shows all)" in out


def test_inspect_an_artifact_against_a_microcontroller(demo_build):
    tflite = next(demo_build.path.glob("*.tflite"))
    done = run_cli("inspect", str(tflite), "--target", "nano33ble", "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    budgets = {b["resource"]: b for b in found["budgets"]}
    assert budgets["flash"]["needed"] == tflite.stat().st_size and budgets["flash"]["available"] == 768 * 1024
    # weights stay in flash on a microcontroller: RAM is the arena alone
    assert budgets["RAM"]["needed"] == found["peak_activation_bytes"] < 64 * 1024
    assert found["unsupported_ops"] == [] and found["ops"]["CONV_2D"] == 3


def test_inspect_exits_5_when_it_does_not_fit(tmp_path, demo_build):
    profile = tmp_path / "tiny-mcu.toml"
    text = (PROFILE_DIR / "nano33ble.toml").read_text().replace("ram_kb = 160", "ram_kb = 4")
    profile.write_text(text.replace('id = "nano33ble"', 'id = "tiny-mcu"'))
    done = run_cli("inspect", str(next(demo_build.path.glob("*.tflite"))), "--target", str(profile))
    assert done.returncode == 5
    assert "DOES NOT FIT  RAM needed" in done.stdout and "available 4.0 KiB" in done.stdout
    assert "try: a smaller input" in done.stdout and "does not fit" in done.stderr


def test_inspect_bad_input_is_one_line(tmp_path):
    missing = run_cli("inspect", str(tmp_path / "nope.tflite"))
    assert missing.returncode == 2 and "nope.tflite: no such file" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"not a flatbuffer" * 10)
    broken = run_cli("inspect", str(garbage))
    assert broken.returncode == 2 and "not a TFLite flatbuffer" in broken.stderr


def test_latency_estimate_over_budget_fails_the_gate_but_writes_the_build(tmp_path, session_cache):
    profile = tmp_path / "slow-board.toml"
    text = (PROFILE_DIR / "x86-vnni.toml").read_text().replace("max_latency_ms = 20.0", "max_latency_ms = 0.001")
    profile.write_text(text.replace('id = "x86-vnni"', 'id = "slow-board"'))
    out = tmp_path / "build"
    done = run_cli("compile", "--target", str(profile), "-o", str(out), cache=session_cache)
    assert done.returncode == 1, done.stderr
    report = json.loads(next(out.parent.glob("build*/report.json")).read_text())
    check = next(c for c in report["gate"]["checks"] if c["metric"] == "estimated_latency_ms")
    assert not check["passed"] and check["limit"] == 0.001 and check["value"] > 0.001
    assert "estimated_latency_ms" in done.stdout + done.stderr
    shutil.rmtree(out, ignore_errors=True)
