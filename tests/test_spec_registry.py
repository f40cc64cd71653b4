"""Pipelines as data: parsing spec strings and building typed passes from them."""

from __future__ import annotations

import pytest

from edgec.compiler.errors import ConfigError
from edgec.compiler.registry import PASSES, build_pass
from edgec.compiler.spec import PassSpec, parse_pipeline


def test_parse_names_and_options():
    steps = parse_pipeline("cleanup, quantize{calibration=entropy,per_channel=false}")
    assert steps == [PassSpec("cleanup"), PassSpec("quantize", {"calibration": "entropy", "per_channel": "false"})]


@pytest.mark.parametrize("text", ["", "cleanup{x}", "Cleanup", "cleanup,,quantize", "quantize{a=1"])
def test_parse_rejects_malformed(text):
    with pytest.raises(ConfigError):
        parse_pipeline(text)


def test_build_pass_types_options_from_dataclass_fields():
    quantize = build_pass(
        PassSpec("quantize", {"per_channel": "false", "percentile": "99.9", "batch_size": "4", "exclude_nodes": "a;b"})
    )
    assert quantize.per_channel is False
    assert quantize.percentile == 99.9 and quantize.batch_size == 4
    assert quantize.exclude_nodes == ("a", "b")
    assert build_pass(PassSpec("quantize")).spec().startswith("quantize{calibration=minmax,")


def test_unknown_pass_and_option_suggest_the_right_name():
    with pytest.raises(ConfigError, match="did you mean 'quantize'"):
        build_pass(PassSpec("quantise"))
    with pytest.raises(ConfigError, match="did you mean 'calibration'"):
        build_pass(PassSpec("quantize", {"calibraton": "minmax"}))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"calibration": "kl"}, "calibration must be one of"),
        ({"per_channel": "maybe"}, "expected true or false"),
        ({"batch_size": "four"}, "expected int"),
        ({"activations": "int4"}, "int8 or uint8"),
    ],
)
def test_bad_option_values_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        build_pass(PassSpec("quantize", options))


def test_every_registered_pass_imports_and_declares_kinds():
    from edgec.compiler.kinds import KIND_NAMES
    from edgec.compiler.registry import pass_class

    for name in PASSES:
        cls = pass_class(name)
        assert cls.name == name
        assert cls.accepts in KIND_NAMES and cls.produces in KIND_NAMES


def test_spec_strings_round_trip_through_the_parser():
    from edgec.compiler.spec import parse_pipeline

    original = build_pass(PassSpec("quantize", {"exclude_nodes": "a;b", "per_channel": "false"}))
    (step,) = parse_pipeline(original.spec())
    assert build_pass(step) == original
    assert "exclude_nodes=a;b" in original.spec() and "per_channel=false" in original.spec()
