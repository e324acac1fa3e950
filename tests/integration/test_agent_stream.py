"""The agent's stream (``/v2/stream``) against the real aiohttp agent on loopback:
deltas, version refusal both ways, a stall marked stale and recovered, and the
client's bounds on every frame."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import msgspec
import pytest
from aiohttp import web

from console.agent import stream_client, stream_wire
from console.agent.client import AgentSource, SharedSession, make_agent_sources
from console.agent.server import MAX_STREAMS, Collected, make_app
from console.agent.stream_client import AgentStreamSource
from console.agent.stream_wire import (
    STREAM_PATH,
    WIRE_HEADER,
    StreamDecoder,
    StreamEncoder,
    frame_parts,
)
from console.agent.wire import MAX_PROCESSES, MAX_TEXT, WIRE_VERSION, WireError
from console.api import SourceContext, SourceError
from console.core import engine as engine_module
from console.core.config import parse_config
from console.core.engine import BLOCKED_MARGIN, Engine
from console.core.model import Column, Entity
from console.core.runtime import build_sources, load_registry
from console.core.store import Store
from tests.integration.agents import raw_app, serving, sim_collector, wait_until
from tests.waiting import timeouts_armed


class Scripted:
    """A collector the test drives: each ``publish`` is a new collection; ``hold`` makes
    ``latest()`` hang as a stuck node would."""

    def __init__(self) -> None:
        self.current: Collected | None = None
        self.ready = asyncio.Event()
        self.flowing = asyncio.Event()
        self.flowing.set()

    def publish(self, gpu_model: str, util: float) -> None:
        entities = [
            Entity("node/n1", "n1"),
            Entity("gpu/n1/0", "GPU 0", "node/n1", {"model": gpu_model}),
        ]
        samples = [("gpu/n1/0", "gpu.util", util), ("node/n1", "node.cpu", 5.0)]
        self.current = Collected("n1", None, entities, samples, [])
        self.ready.set()

    async def latest(self) -> Collected:
        await self.flowing.wait()
        await self.ready.wait()
        assert self.current is not None
        return self.current


def _source(url: str, **kw: object) -> AgentStreamSource:
    return AgentStreamSource(url, 0.2, session=SharedSession(), **kw)  # type: ignore[arg-type]


async def _reason(source: AgentStreamSource) -> str:
    try:
        await source.poll()
    except SourceError as exc:
        return str(exc)
    finally:
        await source.close()
    return "ok"


async def test_an_unchanged_entity_is_not_resent_a_changed_one_is() -> None:
    agent = Scripted()
    agent.publish("H100", 10.0)
    async with serving(make_app(agent, None)) as url:
        source = _source(url)
        try:
            first = await source.poll()
            assert sorted(e.ref for e in first.entities) == ["gpu/n1/0", "node/n1"]
            assert {(s.ref, s.metric, s.value) for s in first.as_samples()} == {
                ("gpu/n1/0", "gpu.util", 10.0), ("node/n1", "node.cpu", 5.0)}  # fmt: skip

            agent.publish("H100", 20.0)  # same entities, new readings
            same = await source.poll()
            assert same.entities == []
            assert ("gpu/n1/0", "gpu.util", 20.0) in {(s.ref, s.metric, s.value)
                                                      for s in same.as_samples()}  # fmt: skip

            agent.publish("H200", 30.0)  # the GPU changed; the node did not
            changed = await source.poll()
            assert [(e.ref, e.attrs) for e in changed.entities] == [("gpu/n1/0", {"model": "H200"})]
        finally:
            await source.close()


async def test_a_poll_that_finds_its_frame_come_already_arms_no_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A thousand agents poll a thousand times a second, most finding the agent's frame
    # in already: those take it without a stall timer (one made and cancelled a poll).
    agent = Scripted()
    agent.publish("H100", 10.0)
    armed = timeouts_armed(monkeypatch)
    async with serving(make_app(agent, None)) as url:
        source = _source(url, timeout=7.25)
        try:
            await source.poll()  # opens the stream (timed) and reads its first frame
            opened = armed.count(7.25)
            assert opened >= 1
            assert source._response is not None
            content = source._response.content
            agent.publish("H100", 20.0)
            await wait_until(lambda: b"\n" in b"".join(content._buffer))  # its frame came
            batch = await source.poll()
            assert armed.count(7.25) == opened  # none for a frame already in
            assert batch.columns and source.node == "n1"
        finally:
            await source.close()


async def test_an_agent_refusing_the_stream_then_stalling_its_body_times_out_alone() -> None:
    # The engine arms no timer for a stream source (``times_its_waits``): the poll's own
    # deadline must cover the whole opening, a refusal's body too.
    done = asyncio.Event()

    async def stalled(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=400)
        response.content_length = 300
        await response.prepare(request)  # the headers, then not a byte of the body
        await done.wait()
        return response

    app = web.Application()
    app.router.add_get(STREAM_PATH, stalled)
    async with serving(app) as url:
        source = _source(url, timeout=0.3)
        assert source.times_its_waits
        began = time.monotonic()
        try:
            async with asyncio.timeout(10):  # (the test's own bound: without the fix, a hang)
                reason = await _reason(source)
        finally:
            done.set()
        assert reason == "timeout after 0.3s"
        assert time.monotonic() - began < 5


async def test_a_poll_read_too_late_for_the_engine_keeps_what_came_for_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On a starved core a poll may end past the engine's "blocked" margin, and the engine
    # refuses its batch: the entities it carried would not come again until a full frame.
    agent = Scripted()
    agent.publish("H100", 10.0)
    async with serving(make_app(agent, None)) as url:
        source = _source(url)
        late = iter([0.0, source.timeout * BLOCKED_MARGIN + 1.0])
        monkeypatch.setattr(stream_client, "monotonic", lambda: next(late))
        try:
            with pytest.raises(SourceError, match="kept for the next poll"):
                await source.poll()
            monkeypatch.setattr(stream_client, "monotonic", time.monotonic)
            kept = await source.poll()  # at once: what the late poll read
        finally:
            await source.close()
    assert sorted(e.ref for e in kept.entities) == ["gpu/n1/0", "node/n1"]
    assert ("gpu/n1/0", "gpu.util", 10.0) in {(s.ref, s.metric, s.value) for s in kept.as_samples()}


async def test_the_engine_does_not_check_again_what_the_stream_decoder_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The decoder checks every field (the cases below); a second look by check_batch,
    # a thousand polls a second, cost a tenth of a fleet console's CPU.
    def checked_twice(batch: object) -> object:
        raise AssertionError("checked twice")

    monkeypatch.setattr(engine_module, "check_batch", checked_twice)
    agent = Scripted()
    agent.publish("H100", 10.0)
    async with serving(make_app(agent, None)) as url:
        engine = Engine(Store(), [_source(url)])
        try:
            await engine.collect(1)
            assert [s.status for s in engine.statuses()] == ["ok"]
            assert engine.store.value("gpu/n1/0", "gpu.util") == 10.0
        finally:
            await engine.stop()


def test_every_refresh_a_full_frame_resends_every_entity() -> None:
    now = [0.0]
    encoder = StreamEncoder(refresh=60.0, clock=lambda: now[0])
    parts = frame_parts("n1", None, [Entity("node/n1", "n1")], [("node/n1", "node.cpu", 1.0)], [])
    first, again = json.loads(encoder.frame(parts)), json.loads(encoder.frame(parts))
    now[0] = 61.0
    refreshed = json.loads(encoder.frame(parts))
    assert (first["full"], len(first["entities"]), "keys" in first) == (True, 1, True)
    assert (again["full"], again["entities"], "keys" in again) == (False, [], False)
    assert (refreshed["full"], len(refreshed["entities"]), "keys" in refreshed) == (True, 1, True)


def test_frames_decode_into_a_column_per_metric_without_an_object_per_reading() -> None:
    samples = [("gpu/n1/0", "gpu.util", 10.0), ("node/n1", "node.cpu", 5.0),
               ("gpu/n1/1", "gpu.util", None)]  # fmt: skip
    parts = frame_parts("n1", 7.0, [Entity("node/n1", "n1")], samples, [])
    encoder, decoder = StreamEncoder(), StreamDecoder()
    decoder.add(encoder.frame(parts).rstrip(b"\n"))
    first = decoder.take()
    assert first is not None
    node, batch, _ = first
    assert (node, batch.time, batch.samples) == ("n1", 7.0, [])
    assert batch.columns == [
        Column("gpu.util", ["gpu/n1/0", "gpu/n1/1"], [10.0, None]),
        Column("node.cpu", ["node/n1"], [5.0]),
    ]
    # The next frame brings values only: the columns keep the refs they had (one list).
    decoder.add(encoder.frame(parts).rstrip(b"\n").replace(b"[[10.0,null]", b"[[11,null]"))
    second = decoder.take()
    assert second is not None
    again = second[1].columns
    assert again[0].refs is batch.columns[0].refs
    assert again[0].values == [11.0, None]  # an integer in the JSON arrives a float
    assert [type(value) for value in again[0].values] == [float, type(None)]
    # New keys: the columns are theirs from that frame on.
    other = frame_parts("n1", 8.0, [], [("node/n1", "node.mem", 3.0)], [])
    decoder.add(encoder.frame(other).rstrip(b"\n"))
    third = decoder.take()
    assert third is not None
    assert third[1].columns == [Column("node.mem", ["node/n1"], [3.0])]


def _field_by_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every frame read as one the typed decoder refused (checked field by field)."""

    def refuse(line: bytes) -> None:
        raise msgspec.ValidationError("refused for the test")

    monkeypatch.setattr(stream_wire, "_FRAME_DECODE", refuse)


def _decoded(lines: list[bytes]) -> list[object]:
    decoder, taken = StreamDecoder(), []
    for line in lines:
        try:
            decoder.add(line.rstrip(b"\n"))
        except WireError as exc:
            taken.append(f"refused: {exc}")
        else:
            taken.append(decoder.take())
    return taken


def test_a_common_frame_is_decoded_typed_into_what_the_field_checks_make(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    processes = [{"pid": pid, "sm_share": 1} for pid in range(MAX_PROCESSES + 3)]
    gpu = Entity("gpu/n1/0", "GPU 0", "node/n1", {"model": "H100", "processes": processes})
    samples = [("gpu/n1/0", "gpu.util", 10.0), ("gpu/n1/0", "gpu.temp", None),
               ("node/n1", "node.cpu", 5.0)]  # fmt: skip
    parts = frame_parts("n1", 7.0, [Entity("node/n1", "n1"), gpu], samples, [])
    encoder = StreamEncoder()
    lines = [encoder.frame(parts), encoder.frame(parts).replace(b"[[10.0]", b"[[11]")]

    def untyped(document: object) -> None:
        raise AssertionError("a common frame went the field-by-field way")

    monkeypatch.setattr(StreamDecoder, "_add_document", untyped)
    typed = _decoded(lines)
    monkeypatch.undo()
    _field_by_field(monkeypatch)
    assert typed == _decoded(lines)
    first = typed[0]
    assert isinstance(first, tuple)
    capped = next(e for e in first[1].entities if e.ref == "gpu/n1/0").attrs
    assert (len(capped["processes"]), capped["processes_dropped"]) == (MAX_PROCESSES, 3)


@pytest.mark.parametrize(
    "changes",
    [
        {"entities": [{"ref": "gpu/n2/0", "name": "x"}]},
        {"entities": [{"ref": "gpu/n1/0", "name": "x", "parent": "node/n2"}]},
        {"entities": [{"ref": "gpu/n1/0", "name": "x" * (MAX_TEXT + 1)}]},
        {"entities": [{"ref": "gpu/n1/0", "name": ""}]},
        {"entities": [{"ref": "gpu/n1/0", "name": "x", "attrs": None}]},
        {"node": "n/1"},
        {"node": "n" * (MAX_TEXT + 1)},
        {"wire_version": 2},
        {"wire_version": "3"},
        {"time": True},
        {"time": "now"},
        {"values": [[1.0, 2.0]]},
        {"values": [[True]]},
        {"values": [[1e308, 1e308]]},
        {"keys": {"gpu.util": ["gpu/n9/0"]}},
        {"sources": None},
    ],
)
def test_the_typed_decoder_refuses_and_accepts_as_the_field_checks_do(
    changes: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [_frame(), _frame(**changes)]
    typed = _decoded(lines)
    _field_by_field(monkeypatch)
    assert typed == _decoded(lines)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"time": True}, "time must be a number"),  # bool is not a number here
        ({"time": 10**400}, "time must be a number"),  # JSON's integers have no size
        ({"values": [[10**400]]}, "value of gpu.util must be a finite number or null"),
    ],
)
def test_a_time_or_value_that_is_no_finite_float_is_refused_by_name(
    changes: dict[str, object], reason: str
) -> None:
    # (``true`` was taken as a time; a 400-digit integer raised OverflowError, which the
    # source does not catch: the stream was not dropped, lines already split were lost.)
    assert _decoded([_frame(**changes)]) == [f"refused: {reason}"]


async def test_a_console_speaking_the_old_wire_is_refused_naming_both_versions() -> None:
    async with serving(make_app(sim_collector(), None)) as url:
        old = _source(url)
        old.wire_version = 2  # the stream before columns
        assert await _reason(old) == (
            f"refused by the agent: wire version mismatch: this agent speaks {WIRE_VERSION}, "
            "the console 2 (run the same watchfloor release on both)"
        )
        async with (  # no version said at all
            aiohttp.ClientSession() as session,
            session.get(f"{url}{STREAM_PATH}") as response,
        ):
            assert response.status == 400
            assert "the console none" in await response.text()
        assert await _reason(_source(url)) == "ok"


async def test_an_agent_speaking_the_old_wire_is_refused_naming_both_versions() -> None:
    async def old_snapshot(request: web.Request) -> web.Response:  # an agent before the stream
        return web.json_response({"wire_version": 1, "node": "n1", "entities": [], "samples": {}})

    async with serving(raw_app(old_snapshot)) as url:
        assert await _reason(_source(url)) == (
            f"version mismatch: agent speaks wire version 1 (no {STREAM_PATH}), this console "
            f"{WIRE_VERSION}: run the same watchfloor release on both"
        )


async def test_a_stalled_stream_marks_the_source_stale_and_it_recovers() -> None:
    agent = Scripted()
    agent.publish("H100", 10.0)
    async with serving(make_app(agent, None)) as url:
        source = AgentStreamSource(url, 0.2, timeout=0.5, session=SharedSession())
        engine = Engine(Store(), [source])
        engine.start()
        try:
            await wait_until(lambda: engine.statuses()[0].status == "ok")
            agent.flowing.clear()  # the node stops sending, the connection stays open
            await wait_until(lambda: engine.statuses()[0].reason.startswith("stream stalled"))
            status = engine.statuses()[0]
            assert status.status == "stale", status
            assert status.reason.startswith("stream stalled: no update for 0.5s (reconnecting)")
            assert engine.store.get("gpu/n1/0") is not None  # the last data is kept
            agent.flowing.set()
            agent.publish("H100", 42.0)
            await wait_until(lambda: engine.statuses()[0].status == "ok")
            await wait_until(lambda: engine.store.value("gpu/n1/0", "gpu.util") == 42.0)
        finally:
            await engine.stop()


def _stream_app(*lines: bytes) -> web.Application:
    """A lying agent: its stream sends these lines, then stays open until shutdown."""
    ending = asyncio.Event()

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for line in lines:
            await response.write(line)
        await ending.wait()
        return response

    async def end(app: web.Application) -> None:
        ending.set()

    app = web.Application()
    app.router.add_get(STREAM_PATH, stream)
    app.on_shutdown.append(end)
    return app


def _frame(**changes: object) -> bytes:
    frame: dict[str, object] = {
        "wire_version": WIRE_VERSION, "node": "n1", "time": None, "full": True,
        "entities": [{"ref": "gpu/n1/0", "name": "GPU 0", "parent": "node/n1", "attrs": {}}],
        "keys": {"gpu.util": ["gpu/n1/0"]}, "values": [[50.0]], "sources": [],
    }  # fmt: skip
    frame.update(changes)
    return json.dumps(frame).encode() + b"\n"


def _gpus(first: int, count: int) -> list[dict[str, object]]:
    return [{"ref": f"gpu/n1/{i}", "name": f"GPU {i}"} for i in range(first, first + count)]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ((_frame(),), "ok"),
        ((b"x" * 5000,), "stream frame too large (over 4,096 bytes)"),
        ((_frame(entities=_gpus(0, 11)),), "bad response: entities must be a list of at most 10"),
        ((_frame(entities=_gpus(0, 6)), _frame(entities=_gpus(6, 6))),
         "bad response: the stream named over 10 entities"),
        ((_frame(keys={f"m{i}": ["gpu/n1/0"] for i in range(31)}, values=[[1.0]] * 31),),
         "bad response: the stream named over 30 series"),
        ((_frame(keys={"gpu.util": [f"gpu/n1/{i}" for i in range(11)]}, values=[[1.0] * 11]),),
         "bad response: keys name over 10 refs"),
        ((_frame(keys={"gpu.util": ["gpu/n9/0"]}),),
         "bad response: samples for 'gpu/n9/0' do not belong to node 'n1'"),
        ((_frame(keys={"gpu.util": ["/n1/0"]}),),  # no kind: the engine checks no more
         "bad response: samples for '/n1/0' do not belong to node 'n1'"),
        ((_frame(entities=[{"ref": "gpu/n1/0", "name": "GPU 0", "parent": "/n1"}]),),
         "bad response: parent '/n1' does not belong to node 'n1'"),
        ((_frame(keys={"gpu.util": ["gpu/n1/0", "gpu/n1/0"]}, values=[[1.0, 2.0]]),),
         "bad response: keys name a series of gpu.util twice"),
        ((_frame(keys={"gpu.util": []}, values=[[]]),),
         "bad response: keys must map each metric to a non-empty list of refs"),
        ((_frame(keys={"gpu.util": "gpu/n1/0"}),),
         "bad response: keys must map each metric to a non-empty list of refs"),
        ((_frame(entities=[{"ref": "gpu/n2/0", "name": "x"}]),),
         "bad response: entity 'gpu/n2/0' does not belong to node 'n1'"),
        ((_frame(), _frame(node="n2")), "bad response: the stream of node 'n1' changed to 'n2'"),
        ((_frame(values=[[1.0], [2.0]]),),
         "bad response: values must be a list of 1 lists (one per metric)"),
        ((_frame(values=[[1.0, 2.0]]),), "bad response: values of gpu.util must be a list of 1"),
        ((_frame(values=[50.0]),), "bad response: values of gpu.util must be a list of 1"),
        ((_frame(values=[[True]]),), "bad response: value of gpu.util must be a finite number"),
        ((_frame(values=[["50"]]),), "bad response: value of gpu.util must be a finite number"),
        ((_frame().replace(b"[[50.0]]", b"[[1e999]]"),),
         "bad response: value of gpu.util must be a finite number"),
        ((_frame().replace(b"[[50.0]]", b"[[NaN]]"),),
         "bad response: value of gpu.util must be a finite number"),
        ((_frame(wire_version=2),), "bad response: version mismatch: agent speaks wire version 2"),
        ((_frame(), _frame(wire_version=2)),
         "bad response: version mismatch: agent speaks wire version 2"),
        ((b"{not json\n",), "bad response: bad JSON in the stream"),
    ],
)  # fmt: skip
async def test_the_stream_is_bounded_and_checked_like_a_snapshot(
    lines: tuple[bytes, ...], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small caps keep the test quick; the checks are the same at the real ones.
    monkeypatch.setattr(stream_client, "MAX_FRAME_BYTES", 4096)
    monkeypatch.setattr(stream_wire, "MAX_ENTITIES", 10)
    monkeypatch.setattr(stream_wire, "MAX_SERIES", 30)
    async with serving(_stream_app(*lines)) as url:
        source = _source(url)
        reason = await _reason(source) if len(lines) == 1 else await _two_polls(source)
        assert reason.startswith(expected), reason


_HOSTILE_ATTRS = [
    (b'{"temp": 1e999}', "temp"),
    (b'{"processes": [{"pid": 1, "gpu_mem_mib": -1e999}]}', "processes[0].gpu_mem_mib"),
    (b'{"bytes": 1%s}' % (b"0" * 400), "bytes"),  # past a float's range
    (b'{"bytes": %d}' % 2**64, "bytes"),  # past 64 bits: the recorder's msgpack raised
]


@pytest.mark.parametrize(
    ("attrs", "where"), _HOSTILE_ATTRS, ids=["inf", "nested", "huge", "65-bit"]
)
async def test_a_number_no_float_holds_in_an_entity_s_attrs_is_refused_by_name_read_once(
    attrs: bytes, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1e999 in attrs: the typed decoder refused it, msgspec untyped too, json read it as
    # inf, and nothing looked at attrs: the frame landed with inf, parsed three times.
    again: list[bytes] = []
    monkeypatch.setattr(StreamDecoder, "_document", staticmethod(again.append))
    line = _frame().replace(b'"attrs": {}', b'"attrs": ' + attrs)
    async with serving(_stream_app(line)) as url:
        assert await _reason(_source(url)) == (
            f"bad response: attribute {where} of gpu/n1/0 must be a finite number "
            "(a float, or an integer of at most 64 bits)"
        )
    assert again == []  # refused by the typed decoder: the frame was read once


async def _two_polls(source: AgentStreamSource) -> str:
    """Two frames that pass one by one may not pass together (one poll may read both)."""
    try:
        await source.poll()
        await source.poll()
    except SourceError as exc:
        return str(exc)
    finally:
        await source.close()
    return "ok"


async def test_the_agent_bounds_streams_and_asks_the_token() -> None:
    async with serving(make_app(sim_collector(), "right-token-0123456789")) as url:
        assert await _reason(_source(url)) == "401 unauthorized: wrong or missing token"
        assert await _reason(_source(url, token="right-token-0123456789")) == "ok"
    async with serving(make_app(sim_collector(), "right-token-0123456789")) as url:
        headers = {"Authorization": "Bearer right-token-0123456789", WIRE_HEADER: str(WIRE_VERSION)}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(f"{url}{STREAM_PATH}?interval=0.001") as response:
                assert response.status == 400  # a stream may not ask for a frame a millisecond
            held = [await session.get(f"{url}{STREAM_PATH}") for _ in range(MAX_STREAMS)]
            assert [r.status for r in held] == [200] * MAX_STREAMS
            async with session.get(f"{url}{STREAM_PATH}") as refused:
                assert refused.status == 503
            for response in held:
                response.close()


async def test_an_agent_serving_its_most_streams_is_polled_meanwhile() -> None:
    # A fifth console of one agent (it serves MAX_STREAMS): its snapshot, not a failure,
    # and the stream asked for again once STREAM_RETRY has passed.
    headers = {WIRE_HEADER: str(WIRE_VERSION)}
    async with (
        serving(make_app(sim_collector("n1"), None)) as url,
        aiohttp.ClientSession(headers=headers) as session,
    ):
        held = [await session.get(f"{url}{STREAM_PATH}") for _ in range(MAX_STREAMS)]
        source = _source(url)
        try:
            batch = await source.poll()
            assert batch.meta["agent_node"] == "n1" and source._response is None
            for response in held:
                response.close()
            await source.poll()  # within STREAM_RETRY: the snapshot again
            assert source._response is None
            deadline = time.monotonic() + 20  # (the agent notices the closed ones)
            while source._response is None:  # the minute passed: the stream asked for again
                assert time.monotonic() < deadline, "never streamed once one was free"
                source._snapshot_until = 0.0
                await source.poll()
            await source.poll()  # its frames, read off the stream
        finally:
            await source.close()


def test_the_config_chooses_the_stream() -> None:
    def made(**options: object) -> list[type]:
        context = SourceContext(1.0, ".", {"url": "http://n[1-2]:9477", "timeout": 3.0, **options})
        return [type(source) for source in make_agent_sources(context)]

    # The stream is the default (a third of the console's CPU at fleet size); a source
    # may still poll the snapshot.
    assert made() == [AgentStreamSource, AgentStreamSource]
    assert made(stream=True) == [AgentStreamSource, AgentStreamSource]
    assert made(stream=False) == [AgentSource, AgentSource]
    # A config that does not say (as a demo's agents): the stream.
    registry = load_registry()
    for text, kind in (("", AgentStreamSource), ("    stream: false\n", AgentSource)):
        yaml = f"sources:\n  - type: agent\n    url: http://n1:9477\n{text}"
        config = parse_config(yaml, "c.yaml", registry.source_types)
        assert [type(s) for s in build_sources(config, registry, None, local=False)] == [kind]
