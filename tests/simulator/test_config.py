"""PackConfig: flags and mutants are declared once and every name is checked."""

from __future__ import annotations

from typing import ClassVar

import pytest
from attrs import frozen

from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.errors import ConfigError


@frozen(kw_only=True)
class DemoConfig(PackConfig):
    FIXES: ClassVar[dict[str, str]] = {"retry": "retries", "jitter": "jitters"}
    MUTANTS: ClassVar[dict[str, str]] = {"double_send": "sends twice"}
    timeout_ms: int = 30_000
    name: str = "demo"
    hosts: tuple[str, ...] = ("a", "b")


def test_presets_and_mutant_variants() -> None:
    assert DemoConfig.variant_names() == ("faithful", "fixed", "mutant:double_send")
    assert DemoConfig.for_variant("faithful").fixes == frozenset()
    assert DemoConfig.for_variant("fixed").fixes == {"retry", "jitter"}
    mutant = DemoConfig.for_variant("mutant:double_send")
    assert mutant.fixes == {"retry", "jitter"} and mutant.mutants == {"double_send"}
    assert [DemoConfig.for_variant(v).variant for v in DemoConfig.variant_names()] == list(
        DemoConfig.variant_names())
    assert DemoConfig(timeout_ms=1).variant == "custom"


def test_a_misspelt_flag_is_an_error_not_a_silent_false() -> None:
    config = DemoConfig()
    assert config.fixed("retry") is False and config.mutant("double_send") is False
    with pytest.raises(ConfigError, match="no fix flag 'retyr'"):
        config.fixed("retyr")
    with pytest.raises(ConfigError, match="no mutant 'double'"):
        config.mutant("double")
    with pytest.raises(ConfigError, match="unknown fix flag 'nope'"):
        DemoConfig(fixes=frozenset({"nope"}))
    with pytest.raises(ConfigError, match="unknown mutant 'x'"):
        DemoConfig(mutants=["x"])
    with pytest.raises(ConfigError, match="not the string"):
        DemoConfig(fixes="retry")  # type: ignore[arg-type]


def test_unknown_variant_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: faithful, fixed, mutant:double_send"):
        DemoConfig.for_variant("mutant:nope")


def test_json_round_trip_and_strict_reading() -> None:
    config = DemoConfig.for_variant("mutant:double_send")
    data = config.to_dict()
    assert data["fixes"] == ["jitter", "retry"] and data["hosts"] == ["a", "b"]
    assert DemoConfig.from_dict(data) == config
    with pytest.raises(ConfigError, match="unknown config keys: colour"):
        DemoConfig.from_dict({**data, "colour": "red"})
    with pytest.raises(ConfigError, match="timeout_ms must be int"):
        DemoConfig.from_dict({**data, "timeout_ms": "soon"})
    with pytest.raises(ConfigError, match="timeout_ms must be int"):
        DemoConfig.from_dict({**data, "timeout_ms": True})
    with pytest.raises(ConfigError, match="timeout_ms must not be negative"):
        DemoConfig.from_dict({**data, "timeout_ms": -5})
    with pytest.raises(ConfigError, match="timeout_ms must be int, not None"):
        DemoConfig.from_dict({**data, "timeout_ms": None})
    with pytest.raises(ConfigError, match="must be a JSON object"):
        DemoConfig.from_dict([1, 2])  # type: ignore[arg-type]
