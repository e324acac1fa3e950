"""The relay that ``watchfloor serve`` viewers read: a viewer's store says what the
collector's says (figures, findings, rates, job states), and nothing else gets in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from console.analysis.cost import CostModel, power_summary
from console.analysis.fleet_health import fleet_health
from console.api import SourceError
from console.collector.delta import (
    HistoryLine,
    Lines,
    decode_header,
    decode_line,
    encode,
    split_lines,
)
from console.collector.journal import KEEP_CYCLES
from console.collector.main import relay_fleet_first
from console.core.config import Config
from console.core.engine import Engine
from console.core.headless import snapshot_document
from console.core.model import Batch, Entity, Finding
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.core.store import Store
from console.serve.relay import Relay, make_relay_app
from console.serve.source import RelaySource
from console.serve.wire import RelayError, expand_relayed, relayed_findings
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
    header: dict[str, Any] = {
        "relay_version": 4, "epoch": "e1", "seq": 3, "full": True, "time": 5.0,
        "sources": [], "findings_changed": True, "analysed": True,
    }  # fmt: skip
    entities = {"entities": [{"ref": "gpu/n1/0", "name": "GPU 0", "parent": "node/n1"}]}
    readings = {"metric": "gpu.util", "refs": ["gpu/n1/0"], "values": [50], "times": [5.0]}
    assert decode_header(header).seq == 3
    found = Lines()
    decode_line(entities, found)
    decode_line(readings, found)
    assert [e.ref for e in found.entities] == ["gpu/n1/0"]
    assert [(c.metric, c.refs, c.values, c.times) for c in found.columns] == [
        ("gpu.util", ["gpu/n1/0"], [50.0], [5.0])
    ]
    bad_headers = [
        ({"relay_version": 3}, "relay version 3 refused: this console reads relay version 4"),
        ({"seq": -1}, "cycle number"),
        ({"findings_changed": None}, "findings_changed must be true or false"),
        ({"analysed": None}, "analysed must be true or false"),
        ({"sources": [{"name": "a", "type": "b", "status": "weird"}]}, "unknown source status"),
    ]  # fmt: skip
    for change, message in bad_headers:
        with pytest.raises(RelayError, match=message):
            decode_header({**header, **change})
    bad_lines = [
        ({"entities": [{"ref": "thing/x", "name": "x"}]}, "is not a ref"),
        ({**readings, "values": [float("nan")]}, "finite number"),
        ({**readings, "values": [True]}, "finite number"),
        ({**readings, "values": [1.0, 2.0]}, "differ in length"),
        ({**readings, "times": ["now"]}, "finite number"),
        ({"history": "gpu.util", "ref": "job/1", "points": [[1.0, 2.0]]}, "timed metric"),
        ({"findings": [{"ref": "job/1", "kind": "x", "severity": "fatal", "title": ""}]},
         "severity"),
        ({"removed": ["thing/x"]}, "is not a ref"),
        ({"local": ["thing/x"]}, "is not a ref"),
        ({"surprise": 1}, "unknown line"),
    ]  # fmt: skip
    for line, message in bad_lines:
        with pytest.raises(RelayError, match=message):
            decode_line(line, Lines())


async def test_deltas_leave_a_viewer_where_a_full_read_would() -> None:
    """A viewer that read the whole store once and then only what changed (entities
    gone included) holds what a viewer reading the whole store now holds, and each
    delta is a fraction of the whole."""
    source_engine = collector()
    await source_engine.collect(2)
    ghost = Entity("node/ghost", "ghost", attrs={"role": "compute"})
    source_engine.store.apply(Batch(entities=[ghost]), "elsewhere", received=0.0)
    relay = Relay(source_engine)
    async with serving(make_relay_app(relay, TOKEN)) as url:
        follower = Engine(Store(), [RelaySource(url, TOKEN, 1.0)], [relayed_findings])
        await follower.collect(1)
        assert "node/ghost" in follower.store.entities
        full_size = len(relay.document(history=False))
        for cycle in range(4):
            await source_engine.collect(1)
            if cycle == 1:  # a node leaves the collector's store (expiry does this)
                source_engine.store.remove(["node/ghost"])
                source_engine.end_cycle()
            await follower.collect(1)
            delta = relay.document(False, relay.journal.epoch, relay.journal.seq - 1)
            assert len(delta) < full_size
        late = Engine(Store(), [RelaySource(url, TOKEN, 1.0)], [relayed_findings])
        await late.collect(1)
        assert "node/ghost" not in follower.store.entities
        statuses = expand_relayed(follower.statuses(), follower.store)
        assert comparable(follower, statuses) == comparable(source_engine, source_engine.statuses())
        for ref, metric, reading in late.store.readings():
            mine = follower.store.reading(ref, metric)
            assert mine is not None and (mine.value, mine.time) == (reading.value, reading.time)
        assert set(follower.store.entities) == set(late.store.entities)
        assert follower.store.entities == late.store.entities
        assert follower.store.findings == late.store.findings == source_engine.store.findings
        await follower.stop()
        await late.stop()
    await source_engine.stop()


async def test_a_reader_from_another_run_or_too_far_behind_reads_it_all() -> None:
    engine = collector()
    relay = Relay(engine)
    await engine.collect(1)
    whole = relay.document(history=False)
    assert relay.document(False, "another-run", relay.journal.seq) == whole
    seq = relay.journal.seq
    for _ in range(KEEP_CYCLES + 1):
        engine.analyse()
        engine.store.remove(["job/4711"])  # something changes each cycle
        engine.store.apply(Batch(entities=[engine.store.entities["node/node01"]]), "x", 0.0)
    assert b'"full":true' in relay.document(False, relay.journal.epoch, seq).split(b"\n")[0]
    assert (
        b'"full":false'
        in relay.document(False, relay.journal.epoch, relay.journal.seq - 1).split(b"\n")[0]
    )
    await engine.stop()


async def test_a_viewer_that_read_before_the_first_cycle_reads_it_all_with_the_history() -> None:
    # A console starts with its collector: its first read finds no cycle yet. What it
    # then lacks is everything, so it reads the whole store, with the jobs' history
    # (a delta of every key cost a scan of each key's cycle, and carries no history).
    engine = collector()
    relay = Relay(engine)
    before = split_lines(relay.document(history=True))
    assert decode_header(next(before)).seq == 0
    await engine.collect(1)
    after = split_lines(relay.document(True, relay.journal.epoch, 0))
    assert decode_header(next(after)).full
    assert any(isinstance(item, HistoryLine) for item in after)
    await engine.stop()


def test_what_the_store_holds_unbounded_is_relayed_clipped() -> None:
    """A job's name is whatever its user typed: the store keeps it, the relay (whose
    reader bounds every string) sends it clipped rather than failing the whole read."""
    store = Store()
    store.apply(Batch(entities=[Entity("job/1", "x" * 5000)]), "jobs", 1.0)
    store.set_findings([Finding("job/1", "job-stalled", "critical", "y" * 5000,
                                evidence=["z" * 5000] * 100)])  # fmt: skip
    lines = split_lines(encode(store, [], "e", 1, None, history=False))
    assert decode_header(next(lines)).findings_changed
    found = Lines()
    for line in lines:
        decode_line(line, found)
    assert found.entities[0].name == "x" * 1023 + "…"
    assert len(found.findings[0].title) == 1024
    assert len(found.findings[0].evidence) == 64


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


async def test_the_fleet_reaches_the_ui_before_the_first_analysis_and_findings_a_cycle_after() -> (
    None
):
    # At 4,000 nodes the first analysis took 3-4 s of the first frame: the collector now
    # sends the fleet first, saying it has not analysed yet, so the UI does not show
    # "no findings" as a verdict; the findings come with the next document.
    engine = collector("congested-link")
    relay = relay_fleet_first(engine)
    async with serving(make_relay_app(relay, TOKEN)) as url:
        viewer = Engine(Store(), [RelaySource(url, TOKEN, 1.0)], [relayed_findings])
        engine.start()
        async with asyncio.timeout(30):
            while not viewer.store.entities:  # each a real read of the relay
                await viewer.collect(1)
        assert viewer.store.count("node") == engine.store.count("node") > 0
        assert viewer.store.findings == [] and viewer.store.findings_pending
        assert relay.sent_seq >= 1  # the first analysis went on once it was sent
        async with asyncio.timeout(30):
            while not viewer.store.findings:
                await viewer.collect(1)
        assert engine.analysed and not viewer.store.findings_pending
        assert "job/4711" in {f.ref for f in viewer.store.findings}  # the job it slows
        await viewer.stop()
    await engine.stop()


async def test_the_first_analysis_waits_for_a_reader_a_bounded_time_and_no_poll_meanwhile() -> None:
    engine = collector()
    (source,) = engine.sources
    limit = 2.5 * source.interval  # long enough for two more polls, were they not held
    relay = relay_fleet_first(engine, limit=limit)  # nobody reads this relay
    polls_at_first_analysis: list[int] = []
    engine.after_analysis = lambda: polls_at_first_analysis.append(engine.statuses()[0].polls)
    began = asyncio.get_running_loop().time()
    engine.start()
    async with asyncio.timeout(30):
        while not engine.analysed:
            await asyncio.sleep(0.05)
    assert asyncio.get_running_loop().time() - began >= limit
    assert relay.sent_seq == -1 and polls_at_first_analysis[0] == 1
    await engine.stop()


async def test_a_reader_that_leaves_mid_document_is_no_error_and_not_sent(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Found in review: the streamed document's write raised when a viewer closed, and
    # aiohttp logged an ERROR with its traceback (on `serve`'s terminal, each time).
    engine = collector()
    await engine.collect(1)
    relay = Relay(engine)

    async def gone(self: web.StreamResponse, data: bytes) -> None:
        raise ConnectionResetError("the reader left")

    monkeypatch.setattr(web.StreamResponse, "write", gone)
    async with serving(make_relay_app(relay, TOKEN)) as url:
        source = RelaySource(url, TOKEN, 1.0)
        with pytest.raises(SourceError):
            await source.poll()
        await source.close()
    assert relay.sent_seq == -1  # it did not go out
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    await engine.stop()
