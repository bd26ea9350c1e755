"""The Lumenize manifest, its config and its monitors: what the tools are told, and that the
books the monitors keep from the trace agree with what the runtime holds."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from gatewaysim.models.lumenize.config import LumenizeConfig
from gatewaysim.properties.lumenize import PACK, LumenizeStatistics
from gatewaysim.properties.lumenize.monitors import SUBSCRIPTION_REQUIRED
from gatewaysim.properties.steps import Step
from gatewaysim.simulator.clock import MINUTE, SECOND
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.network import OPEN

MODEL = Path(__file__).resolve().parents[3] / "models" / "lumenize"


def test_manifest_names_the_six_phases_with_their_durations_and_timelines() -> None:
    durations = {"lumenize-phase1": 10 * SECOND, "lumenize-phase2": 30 * SECOND,
                 "lumenize-phase3": MINUTE, "lumenize-phase4": 10 * SECOND,
                 "lumenize-phase5": 30 * SECOND, "lumenize-phase6": 5 * MINUTE}
    assert {s.name: s.default_duration for s in PACK.scenarios} == durations
    assert all(s.timeline and s.summary for s in PACK.scenarios)
    assert PACK.readme_path() is not None and PACK.readme_path().is_file()


def test_variants_come_from_the_config() -> None:
    assert PACK.variant_names[:2] == ("faithful", "fixed")
    assert PACK.config_of("faithful") == LumenizeConfig()
    assert PACK.config_of("fixed").fixes == frozenset(LumenizeConfig.FIXES)
    with pytest.raises(ConfigError):
        PACK.config_of("mutant:no_such_bug")


def test_unknown_flag_names_raise_everywhere() -> None:
    config = LumenizeConfig()
    with pytest.raises(ConfigError):
        config.fixed("typo")
    with pytest.raises(ConfigError):
        config.mutant("typo")
    with pytest.raises(ConfigError):
        LumenizeConfig(fixes=frozenset({"typo"}))
    with pytest.raises(ConfigError):
        PACK.read_config({**config.to_dict(), "fixes": ["typo"]})


def test_every_flag_the_model_reads_is_declared() -> None:
    used: dict[str, set[str]] = {"fixed": set(), "mutant": set()}
    for path in MODEL.glob("*.py"):
        for kind, name in re.findall(r"\.(fixed|mutant)\(\s*\"([a-z_0-9]+)\"", path.read_text()):
            used[kind].add(name)
    assert used["fixed"] and used["mutant"]
    assert used["fixed"] <= set(LumenizeConfig.FIXES)
    assert used["mutant"] <= set(LumenizeConfig.MUTANTS)
    # And every declared one is read somewhere: a flag nothing reads corrects nothing.
    assert set(LumenizeConfig.FIXES) <= used["fixed"]
    assert set(LumenizeConfig.MUTANTS) <= used["mutant"]


def test_monitors_are_declared_once_with_statement_kind_and_doc() -> None:
    ids = [m.id for m in PACK.monitors]
    assert len(ids) == len(set(ids)) and all(i.startswith("lumenize.") for i in ids)
    assert all(m.statement and m.doc for m in PACK.monitors)
    kinds = {m.kind for m in PACK.monitors}
    assert kinds == {"safety", "liveness", "sometimes"}


def test_statistics_is_a_frozen_value_with_a_fact_per_tab() -> None:
    driver = PACK.new_driver(PACK.config_of("faithful"), 0)
    driver.apply(Step("open_tab", {"client": 1}))
    driver.apply(Step("advance", {"ms": 500}))
    stats = driver.statistics()
    assert isinstance(stats, LumenizeStatistics)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.rows = ()  # type: ignore[misc]
    assert [t.address for t in stats.tabs] == [
        "client/u0.t1", "client/u1.t1", "client/u2.t1", "client/u3.t1", "client/u1.t1#2"]
    assert all(t.up for t in stats.tabs)


RUN = [Step("advance", {"ms": 1000}), Step("drop", {"client": 0}),
       Step("call_client", {"client": 0}), Step("advance", {"ms": 300}),
       Step("crash_gateway", {"client": 0}), Step("advance", {"ms": 2000}),
       Step("open_tab", {"client": 0}), Step("advance", {"ms": 1500}),
       Step("half_open", {"client": 1, "believer": "server"}), Step("advance", {"ms": 8000}),
       Step("drop", {"client": 1}), Step("advance", {"ms": 6000})]


@pytest.mark.parametrize("variant", ["faithful", "fixed"])
def test_subscription_oracle_books_agree_with_the_runtime(variant: str) -> None:
    """The subscriptionRequired oracle keeps each gateway's alarm and OPEN sockets from the
    records alone; after every step they equal what the runtime holds."""
    driver = PACK.new_driver(PACK.config_of(variant), 0)
    books = next(m for m in driver.monitors if m.id == SUBSCRIPTION_REQUIRED.id)
    world = driver.world
    gateways = [f"gateway/u{i}.t1" for i in range(4)]
    for step in RUN:
        driver.apply(step)
        for gw in gateways:
            assert books.alarm.get(gw) == world.alarms.pending(gw), (step, gw)
            held = {ws.conn for ws in world.network.server_sockets(gw)
                    if ws.ready_state == OPEN}
            assert books.open.get(gw, set()) >= held, (step, gw)
    # Faithful breaks the promise here (the gateway crashed during grace and still says
    # false); fixed keeps it. Either way the verdict comes from these books.
    found = {v.invariant_id for v in driver.check_safety()}
    assert found == ({SUBSCRIPTION_REQUIRED.id} if variant == "faithful" else set())
