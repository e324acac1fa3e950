"""The relay that ``watchfloor serve`` viewers read: a viewer's store says what the
collector's says (figures, findings, rates, job states), and nothing else gets in."""

from __future__ import annotations

from typing import Any

import pytest

from console.api import SourceError
from console.config import Config
from console.cost import CostModel, power_summary
from console.engine import Engine
from console.fleet_health import fleet_health
from console.headless import snapshot_document
from console.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.serve.relay import Relay, make_relay_app
from console.serve.source import RelaySource
from console.serve.wire import RelayError, decode_fleet, expand_relayed, relayed_findings
from console.store import Store
from tests.integration.agents import serving

TOKEN = "relay-test-token"


def collector(scenario: str = "congested-link") -> Engine:
    registry = load_registry()
    return build_engine(build_sources(Config(), registry, DemoOptions(scenario), local=False),
                        registry)  # fmt: skip


def comparable(engine: Engine, statuses: list[Any]) -> dict[str, Any]:
    document = snapshot_document(engine.store, statuses, CostModel())
    document.pop("sources")
    document.pop("sim", None)  # the simulator's own meta stays with the collector
    return document


@pytest.mark.parametrize("scenario", ["congested-link", "xid-error", "power-cap"])
async def test_a_viewer_sees_what_the_collector_sees(scenario: str) -> None:
    source_engine = collector(scenario)
    await source_engine.collect(3)
    relay = Relay(source_engine)
    async with serving(make_relay_app(relay, TOKEN)) as url:
        viewer = Engine(Store(), [RelaySource(url, TOKEN, 1.0)], [relayed_findings])
        await viewer.collect(1)
        await source_engine.collect(1)  # the collector moves on: counters get a rate
        await viewer.collect(2)  # twice: a reading that did not move is not passed twice
        statuses = expand_relayed(viewer.statuses(), viewer.store)
        assert [s.name for s in statuses] == ["sim"] and statuses[0].status == "ok"
        assert comparable(viewer, statuses) == comparable(source_engine, source_engine.statuses())
        now = source_engine.clock()
        assert fleet_health(viewer.store, statuses, CostModel(), now) == fleet_health(
            source_engine.store, source_engine.statuses(), CostModel(), now
        )
        assert power_summary(viewer.store, CostModel()) == power_summary(
            source_engine.store, CostModel()
        )
        assert viewer.store.findings == source_engine.store.findings
        port = "port/leaf01/p4"
        assert viewer.store.value(port, "port.tx_bytes") is not None  # a rate, not lost
        assert viewer.store.value(port, "port.tx_bytes") == source_engine.store.value(
            port, "port.tx_bytes"
        )
        assert relay.requests == 3
        await viewer.stop()
    await source_engine.stop()


async def test_the_relay_wants_its_token() -> None:
    engine = collector()
    await engine.collect(1)
    async with serving(make_relay_app(Relay(engine), TOKEN)) as url:
        for token in ("wrong", ""):
            source = RelaySource(url, token, 1.0)
            with pytest.raises(SourceError, match="401 unauthorized"):
                await source.poll()
            await source.close()
    await engine.stop()


def test_a_relay_document_is_checked_field_by_field() -> None:
    good: dict[str, Any] = {
        "relay_version": 1, "time": 5.0, "sources": [], "findings": [], "history": {},
        "entities": [{"ref": "gpu/n1/0", "name": "GPU 0", "parent": "node/n1", "attrs": {}}],
        "readings": {"gpu/n1/0": {"gpu.util": [50, 5.0]}},
    }  # fmt: skip
    assert decode_fleet(good).readings == [("gpu/n1/0", "gpu.util", 50.0, 5.0)]
    bad = [
        ({"relay_version": 2}, "version mismatch"),
        ({"entities": [{"ref": "thing/x", "name": "x"}]}, "is not a ref"),
        ({"readings": {"gpu/n1/0": {"gpu.util": [float("nan"), 1.0]}}}, "finite number"),
        ({"readings": {"gpu/n1/0": {"gpu.util": [True, 1.0]}}}, "finite number"),
        ({"findings": [{"ref": "job/1", "kind": "x", "severity": "fatal", "title": ""}]},
         "severity"),
        ({"sources": [{"name": "a", "type": "b", "status": "weird"}]}, "unknown source status"),
        ({"history": {"job/1": {"gpu.util": [[1.0, 2.0]]}}}, "timed points"),
    ]  # fmt: skip
    for change, message in bad:
        with pytest.raises(RelayError, match=message):
            decode_fleet({**good, **change})


async def test_a_relay_document_past_what_one_read_returns_arrives_whole() -> None:
    # serve --demo --nodes 8 showed "nodes 0": read(n) returned ~128 KB of a bigger body.
    registry = load_registry()
    options = DemoOptions("congested-link", nodes=8)
    source_engine = build_engine(build_sources(Config(), registry, options, local=False), registry)
    await source_engine.collect(2)
    relay = Relay(source_engine)
    async with serving(make_relay_app(relay, TOKEN)) as url:
        viewer = Engine(Store(), [RelaySource(url, TOKEN, 1.0)], [relayed_findings])
        await viewer.collect(1)
        status = viewer.statuses()[0]
        assert status.status == "ok", status.reason
        assert viewer.store.count("node") == source_engine.store.count("node") > 8
        assert viewer.store.count("gpu") == source_engine.store.count("gpu") == 64
        await viewer.stop()
    await source_engine.stop()
