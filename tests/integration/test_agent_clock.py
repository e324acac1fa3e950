"""A real (lying) agent's clock: it measures the agent's skew and never rules "now" (14.3)."""

from __future__ import annotations

import time

from aiohttp import web

from console.agent.client import AgentSource, SharedSession
from console.agent.wire import encode
from console.analysis.clock import clock_skew
from console.core.engine import Engine
from console.core.model import Entity
from console.core.store import Store
from tests.integration.agents import raw_app, serving

YEAR = 365 * 86400.0


async def _poll_agent(agent_time: float, extra_metrics: int = 0) -> Engine:
    samples = [("gpu/n1/0", "gpu.util", 50.0)]
    samples += [("gpu/n1/0", f"gpu.flood_{i}", 1.0) for i in range(extra_metrics)]
    document = encode("n1", agent_time, [Entity("node/n1", "n1")], samples, [])

    async def snapshot(request: web.Request) -> web.Response:
        return web.json_response(document)

    async with serving(raw_app(snapshot)) as url:
        source = AgentSource(url, 1.0, session=SharedSession())
        engine = Engine(Store(), [source], analyzers=[clock_skew])
        await engine.collect()
        await source.close()
    return engine


async def test_an_agent_a_year_ahead_is_a_skew_finding_and_now_stays_the_console_clock() -> None:
    before = time.time()
    engine = await _poll_agent(time.time() + YEAR)
    store = engine.store
    assert store.time is not None and before <= store.time <= time.time()
    assert [f.kind for f in store.findings] == ["clock-skew"]
    assert "days ahead of the console's" in store.findings[0].title
    assert engine.statuses()[0].status == "ok"


async def test_an_agent_time_of_1e300_is_refused_with_the_reason() -> None:
    engine = await _poll_agent(1e300)
    status = engine.statuses()[0]
    assert status.status == "failed"
    assert "agent time 1e+300" in status.reason
    assert "years from the console's clock" in status.reason
    assert engine.store.time is None


async def test_a_flood_of_invented_metric_names_from_an_agent_is_refused() -> None:
    engine = await _poll_agent(time.time(), extra_metrics=3000)
    assert engine.store.metrics_of("gpu/n1/0") == ["gpu.util"]
    status = engine.statuses()[0]
    assert status.status == "ok" and "refused 3000 samples" in status.reason


async def test_an_agent_reports_bounded_processes_and_entities() -> None:
    from console.agent.wire import MAX_ENTITIES, MAX_PROCESSES

    processes = [{"pid": i, "user": "u", "command": "x"} for i in range(200_000)]
    gpu = Entity("gpu/n1/0", "GPU 0", "node/n1", attrs={"processes": processes})
    document = encode("n1", time.time(), [Entity("node/n1", "n1"), gpu], [], [])

    async def snapshot(request: web.Request) -> web.Response:
        return web.json_response(document)

    async with serving(raw_app(snapshot)) as url:
        source = AgentSource(url, 1.0, session=SharedSession())
        batch = await source.poll()
        kept = next(e for e in batch.entities if e.ref == "gpu/n1/0").attrs
        assert len(kept["processes"]) == MAX_PROCESSES
        assert kept["processes_dropped"] == 200_000 - MAX_PROCESSES
        many = [Entity(f"gpu/n1/{i}", f"GPU {i}", "node/n1") for i in range(MAX_ENTITIES + 1)]
        document.update(encode("n1", time.time(), many, [], []))
        engine = Engine(Store(), [source])
        await engine.collect()
        assert f"entities must be a list of at most {MAX_ENTITIES}" in engine.statuses()[0].reason
        await source.close()


def test_a_huge_host_range_is_refused_before_it_is_expanded() -> None:
    import pytest

    from console.agent.client import MAX_AGENT_URLS, expand_urls

    started = time.monotonic()
    with pytest.raises(ValueError, match=r"expands to 100,000,000 agents, over 20,000"):
        expand_urls("http://gpu[0-99999999]:9477")
    assert time.monotonic() - started < 1
    assert len(expand_urls("http://gpu[1-4]-r[1-2]:9477")) == 8 <= MAX_AGENT_URLS
