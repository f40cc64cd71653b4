"""edgec.toml feeds the CLI's defaults; unknown keys are errors, paths are relative to the file."""

from __future__ import annotations

import pytest

from edgec.compiler.config import load_config_defaults
from edgec.compiler.errors import ConfigError

COMMANDS = {"compile": {"target", "calib", "eval_", "max_drop", "pipeline", "input_shapes"}}


def test_defaults_are_mapped_to_click_parameters(tmp_path):
    path = tmp_path / "edgec.toml"
    path.write_text('[compile]\ntarget = "rpi4"\nmax-drop = 0.5\neval = "data/e.npz"\n')
    defaults = load_config_defaults(path, COMMANDS)
    assert defaults == {"compile": {"target": "rpi4", "max_drop": 0.5, "eval_": str(tmp_path / "data/e.npz")}}


def test_unknown_option_and_section_are_errors_with_suggestions(tmp_path):
    path = tmp_path / "edgec.toml"
    path.write_text("[compile]\nmax-dropp = 0.5\n")
    with pytest.raises(ConfigError, match="unknown option 'max-dropp' \\(did you mean 'max-drop'"):
        load_config_defaults(path, COMMANDS)
    path.write_text("[compil]\n")
    with pytest.raises(ConfigError, match="did you mean 'compile'"):
        load_config_defaults(path, COMMANDS)


def test_no_file_means_no_defaults_and_a_named_missing_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config_defaults(None, COMMANDS) is None
    with pytest.raises(ConfigError, match="file not found"):
        load_config_defaults(tmp_path / "nope.toml", COMMANDS)
