"""Power findings: budgets from the config, GPUs held at a power cap too long."""

from __future__ import annotations

import pytest

from console.analysis.power import BUDGETS, configure_budgets
from console.core.config import ConfigError, parse_config
from console.core.engine import Engine
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry

REGISTRY = load_registry()


async def _engine(scenario: str) -> Engine:
    config = parse_config("", "c.yaml", REGISTRY.source_types)
    engine = build_engine(build_sources(config, REGISTRY, DemoOptions(scenario), False), REGISTRY)
    await engine.collect(2)
    return engine


def test_budgets_config() -> None:
    config = parse_config("budgets:\n  racks:\n    rack01: 9000\n  nodes:\n    node02: 4000\n",
                          "c.yaml", REGISTRY.source_types)  # fmt: skip
    assert config.budgets == {"racks": {"rack01": 9000.0}, "nodes": {"node02": 4000.0}}
    for text, message in (
        ("budgets:\n  rooms: {}\n", "c.yaml:2: budgets: unknown key 'rooms'"),
        ("budgets:\n  nodes:\n    n1: -5\n", "c.yaml:3: budgets.nodes: 'n1' must be a positive"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_config(text, "c.yaml", REGISTRY.source_types)
        assert str(info.value).startswith(message)


async def test_racks_and_nodes_over_budget_are_findings() -> None:
    configure_budgets({"rack01": 9_000.0}, {"node02": 4_000.0, "node03": 10_000.0})
    try:
        engine = await _engine("healthy")
        found = {(f.kind, f.ref) for f in engine.store.findings}
        assert ("node-over-budget", "node/node02") in found  # ~4.8 kW of 4 kW
        assert ("node-over-budget", "node/node03") not in found
        assert any(kind == "rack-over-budget" for kind, _ in found)  # ~11 kW of 9 kW
    finally:
        configure_budgets({}, {})
    assert BUDGETS.racks == {}


async def test_gpus_power_capped_too_long_are_findings() -> None:
    engine = await _engine("power-cap")
    assert not any(f.kind == "gpu-power-capped" for f in engine.store.findings)
    await engine.collect(60)  # a minute of sim time at the cap
    capped = sorted(f.ref for f in engine.store.findings if f.kind == "gpu-power-capped")
    assert capped == [f"gpu/node01/{i}" for i in range(4)]
