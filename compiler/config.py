"""edgec.toml: project defaults for command-line options, fed to click as its default_map.

Flags on the command line still win. Keys are the long option names (`max-drop` or `max_drop`); an unknown
key is an error with a suggestion, because a misspelt budget must not silently fall back to the default.
Relative paths are taken relative to the config file, so a project's config works from any folder.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .cache_store import is_url
from .errors import ConfigError
from .registry import suggest

DEFAULT_FILE = "edgec.toml"
# Option name -> click parameter name, where they differ; and the options that hold paths.
ALIASES = {"eval": "eval_", "input_shape": "input_shapes", "input_name": "input_names"}
PATH_OPTIONS = {"calib", "eval_", "output", "weights", "cache_dir"}


def load_config_defaults(path: Path | None, commands: dict[str, set[str]]) -> dict[str, Any] | None:
    """Read `path` (or ./edgec.toml when present) into {command: {param: value}} for click."""
    if path is None:
        path = Path(DEFAULT_FILE)
        if not path.is_file():
            return None
    elif not path.is_file():
        raise ConfigError(f"--config {path}: file not found")
    try:
        table = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    defaults: dict[str, Any] = {}
    for command, options in table.items():
        if command not in commands:
            raise ConfigError(
                f"{path}: unknown section [{command}]{suggest(command, commands)}; known: {', '.join(sorted(commands))}"
            )
        if not isinstance(options, dict):
            raise ConfigError(f"{path}: [{command}] must be a table of option = value")
        defaults[command] = {_param(key, commands[command], path, command): value for key, value in options.items()}
        for name in PATH_OPTIONS & defaults[command].keys():
            value = defaults[command][name]
            if not isinstance(value, str):
                key = name.rstrip("_").replace("_", "-")
                raise ConfigError(
                    f"{path}: [{command}] {key} must be one path as a string, got {type(value).__name__} {value!r}"
                )
            if not is_url(defaults[command][name]):  # a URL (--cache-dir) is not relative to anything
                defaults[command][name] = str(path.parent / defaults[command][name])
    return defaults


def _param(key: str, allowed: set[str], path: Path, command: str) -> str:
    name = key.replace("-", "_")
    name = ALIASES.get(name, name)
    if name not in allowed:
        options = sorted(o.replace("_", "-").rstrip("-") for o in allowed)
        raise ConfigError(f"{path}: [{command}] has unknown option {key!r}{suggest(key, options)}")
    return name
