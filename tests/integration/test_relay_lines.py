"""The relay's lines are short, so the console reading them answers its keys between
two lines: a cycle larger than a line arrives as many lines and lands whole, and a
line past the reader's bound is refused with nothing of its document landed."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc

import pytest
from aiohttp import web

from console.collector import delta
from console.collector.delta import (
    LINE_BYTES,
    MAX_LINE_BYTES,
    RELAY_VERSION,
    HistoryLine,
    Lines,
    ReadingsLine,
    decode_header,
    decode_line,
    encode,
    split_lines,
)
from console.core.engine import Engine
from console.core.model import Batch, Column, Entity, Finding
from console.core.store import Store
from console.serve.relay import Relay, make_relay_app
from console.serve.source import RelaySource
from console.serve.wire import MAX_ITEMS, RelayError, relayed_findings
from tests.integration.agents import serving

TOKEN = "relay-lines-token"


def large_collector() -> Engine:
    """A store whose one cycle is megabytes: 3,000 GPUs (some with refs near the longest
    a reader takes), a reading each, and 400 findings with long evidence."""
    refs = [f"gpu/node{i:04d}/0" for i in range(2800)]
    refs += [f"gpu/{'n' * 1000}{i:03d}/0" for i in range(200)]  # 1,500 a line would be 1.5 MB
    entities = [Entity(ref, f"GPU {ref}", attrs={"model": "H200", "serial": "x" * 200})
                for ref in refs]  # fmt: skip
    utils = [float(i % 100) for i in range(len(refs))]
    now = time.time()
    engine = Engine(Store(), [], [])
    batch = Batch(entities=entities, columns=[Column("gpu.util", refs, utils, [now] * len(refs))])
    engine.store.apply(batch, "sim", now)
    engine.store.set_findings(
        [
            Finding(ref, "xid-error", "critical", f"XID on {ref}", evidence=["e" * 500] * 8)
            for ref in refs[:400]
        ]
    )
    return engine


async def test_a_cycle_larger_than_a_line_arrives_as_bounded_lines_and_lands_whole() -> None:
    collector = large_collector()
    relay = Relay(collector)
    document = relay.document(history=True)
    lines = document.splitlines()
    kinds = [line[:12] for line in lines]
    assert len(document) > 20 * LINE_BYTES
    assert max(map(len, lines)) <= LINE_BYTES
    assert kinds.count(b'{"entities":') > 10 and kinds.count(b'{"findings":') > 10
    assert kinds.count(b'{"metric":"g') > 3
    async with serving(make_relay_app(relay, TOKEN)) as url:
        viewer = Engine(Store(), [RelaySource(url, TOKEN, 1.0)], [relayed_findings])
        await viewer.collect(1)
        assert viewer.statuses()[0].status == "ok", viewer.statuses()[0].reason
        assert viewer.store.entities == collector.store.entities
        assert viewer.store.findings == collector.store.findings
        mine = {(r, m): x.value for r, m, x in viewer.store.readings()}
        assert mine == {(r, m): x.value for r, m, x in collector.store.readings()}
        await viewer.stop()


async def test_a_line_past_the_bound_is_refused_and_nothing_of_its_cycle_lands() -> None:
    header = (
        b'{"relay_version":%d,"epoch":"e","seq":1,"full":true,"time":%f,"sources":[],'
        b'"findings_changed":false,"analysed":true}' % (RELAY_VERSION, time.time())
    )
    good = b'{"entities":[{"ref":"node/n1","name":"n1"}]}'
    long = b'{"entities":[{"ref":"node/n2","name":"n2"}]' + b" " * MAX_LINE_BYTES + b"}"

    async def fleet(request: web.Request) -> web.Response:
        return web.Response(body=b"\n".join([header, good, long, b""]))

    app = web.Application()
    app.router.add_get("/v1/fleet", fleet)
    async with serving(app) as url:
        viewer = Engine(Store(), [RelaySource(url, TOKEN, 1.0)], [relayed_findings])
        await viewer.collect(1)
        status = viewer.statuses()[0]
        assert status.status == "failed"
        assert f"at most {MAX_LINE_BYTES:,}" in status.reason
        assert viewer.store.entities == {}  # the good line before it did not land either
        await viewer.stop()


def test_a_large_delta_scanned_carries_what_a_small_one_looked_up(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A delta past :data:`LOOKUP_READINGS` is taken from the store's columns: the same
    readings, none that did not change."""
    store = large_collector().store
    store.take_changes()
    refs = [f"gpu/node{i:04d}/0" for i in range(0, 2800, 3)]
    later = time.time() + 1
    values = [float("inf") if i == 5 else float(i) for i in range(len(refs))]
    store.apply(
        Batch(columns=[Column("gpu.util", refs, values, [later] * len(refs))]), "sim", later
    )
    changes = store.take_changes()

    def readings() -> dict[tuple[str, str], tuple[float | None, float]]:
        lines = split_lines(encode(store, [], "e", 2, changes, history=False))
        decode_header(next(lines))
        found = Lines()
        for line in lines:
            decode_line(line, found)
        return {(ref, c.metric): (value, at) for c in found.columns
                for ref, value, at in zip(c.refs, c.values, c.times, strict=True)}  # fmt: skip

    looked_up = readings()
    monkeypatch.setattr(delta, "LOOKUP_READINGS", 0)
    assert readings() == looked_up
    assert set(looked_up) == {(ref, "gpu.util") for ref in refs}
    assert looked_up[(refs[4], "gpu.util")] == (4.0, later)
    assert looked_up[(refs[5], "gpu.util")] == (None, later)  # JSON has no infinity


def test_one_entity_larger_than_a_line_crosses_the_relay_alone() -> None:
    # A job over a 10,000-node fleet names 80,000 GPUs: 1.6 MB in one entity.
    gpus = [f"gpu/node{n:05d}/{g}" for n in range(10_000) for g in range(8)]
    store = Store()
    store.apply(Batch(entities=[Entity("job/1", "big", None, {"gpus": gpus})]), "slurm", 1.0)
    lines = split_lines(encode(store, [], "epoch", 1, None, True))
    decode_header(next(lines))
    decoded = Lines()
    for line in lines:
        decode_line(line, decoded)
    assert [e.attrs["gpus"] for e in decoded.entities] == [gpus]


def test_a_document_is_cut_a_line_at_a_time_not_copied_whole() -> None:
    # One bytes.split of a 1,000-node document held the GIL up to 150 ms (the terminal's
    # input thread waited on it): the lines are cut as they are read.
    line = b'{"local":["' + b"n" * 100_000 + b'"]}'
    body = b"\n".join([line] * 200)  # 20 MB
    tracemalloc.start()
    try:
        lines = split_lines(body)
        first = next(lines)
        copied = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert first == {"local": ["n" * 100_000]}
    assert copied < 1_000_000, copied  # one line and its parse, not 20 MB of lines
    assert sum(1 for _ in lines) == 199


def _decoded(item: object) -> list[tuple[object, ...]] | str:
    """The columns a line gives, or the reason it is refused."""
    found = Lines()
    try:
        decode_line(item, found)
    except RelayError as exc:
        return str(exc)
    return [(c.metric, c.refs, c.values, c.times) for c in found.columns]


def test_a_line_parsed_typed_is_checked_as_the_general_way_checks_it() -> None:
    # Readings and history lines parse in C first (3 times as fast at 4,000 nodes); what
    # they let through or refuse, and why, is what the general way says of the same line.
    many = json.dumps(["gpu/n1/0"] * (MAX_ITEMS + 1))
    lines = [
        b'{"metric":"gpu.util","refs":["gpu/n1/0","gpu/n1/1"],"values":[50,null],"times":[1.5,2]}',
        b'{"metric":"gpu.util","refs":["gpu/n1/0"],"values":[NaN],"times":[1.0]}',
        b'{"metric":"gpu.util","refs":["gpu/n1/0"],"values":[1e400],"times":[1.0]}',
        b'{"metric":"gpu.util","refs":["gpu/n1/0"],"values":[-1e400],"times":[1.0]}',
        b'{"metric":"gpu.util","refs":["gpu/n1/0"],"values":[true],"times":[1.0]}',
        b'{"metric":"gpu.util","refs":["gpu/n1/0"],"values":[1.0],"times":[null]}',
        b'{"metric":"gpu.util","refs":["gpu/n1/0"],"values":[1.0,2.0],"times":[1.0]}',
        b'{"metric":"gpu.util","refs":["thing/x"],"values":[1.0],"times":[1.0]}',
        b'{"metric":"gpu.util","refs":["gpu/"],"values":[1.0],"times":[1.0]}',
        b'{"metric":"","refs":[],"values":[],"times":[]}',
        b'{"metric":"' + b"m" * 5000 + b'","refs":[],"values":[],"times":[]}',
        b'{"metric":"gpu.util","refs":%s,"values":[],"times":[]}' % many.encode(),
        b'{"metric":"gpu.util","refs":["gpu/n1/0"],"values":[1.0],"times":[1.0],"extra":1}',
        b'{"history":"job.throughput","ref":"job/1","points":[[1.0,2.0],[2,null]]}',
        b'{"history":"job.throughput","ref":"job/1","points":[[1.0,1e999]]}',
        b'{"history":"job.throughput","ref":"job/1","points":[[1.0]]}',
        b'{"history":"job.throughput","ref":"job/1","points":[[1.0,2.0,3.0]]}',
        b'{"history":"job.throughput","ref":"job/1","points":[[null,2.0]]}',
        b'{"history":"gpu.util","ref":"job/1","points":[[1.0,2.0]]}',
        b'{"history":"job.throughput","ref":"node/","points":[]}',
        b'{"metric":"gpu.util\xff","refs":[],"values":[],"times":[]}',  # no UTF-8
        b'{"history":"job.throughput","ref":"job/\xff","points":[]}',
        b'{"metric":"gpu.util","refs":["gpu/n1/0"],"values":[1%s],"times":[1.0]}' % (b"0" * 400),
        b'{"history":["job.throughput"],"ref":"job/1","points":[]}',  # a list is no metric
    ]
    typed = 0
    for line in lines:
        try:
            general = json.loads(line)
        except ValueError:  # no JSON at all for the general way: refused either way
            general = None
        (parsed,) = split_lines(line) if general is not None else (None,)
        typed += isinstance(parsed, ReadingsLine | HistoryLine)
        if general is None:
            with pytest.raises(RelayError):
                list(split_lines(line))
            continue
        assert _decoded(parsed) == _decoded(general), line[:120]
    assert typed >= 8  # the typed way took the well-formed lines (and bad numbers' lines)


def test_a_full_document_carries_a_metric_whose_series_came_apart_as_one_column() -> None:
    # The scan cuts the store's readings into runs of one metric (C speed): a metric whose
    # series joined the store apart (node01's, then temperatures, then node02's) still
    # crosses as one column, every reading with its value and time, its history first.
    store = Store()
    gpus = [f"gpu/node0{n}/{g}" for n in (1, 2) for g in range(3)]
    store.apply(Batch(entities=[Entity(ref, ref) for ref in gpus]), "sim", 10.0)
    for at, (metric, refs) in enumerate(
        [("gpu.util", gpus[:3]), ("gpu.temp", gpus), ("gpu.util", gpus[3:])]
    ):
        values = [float(at * 10 + i) for i in range(len(refs))]
        store.apply(Batch(columns=[Column(metric, refs, values)], time=11.0 + at), "sim", 11.0)
    store.apply(Batch(columns=[Column("job.throughput", ["job/1"] * 2, [5.0, 6.0],
                                      [20.0, 21.0])]), "sim", 21.0)  # fmt: skip
    lines = split_lines(encode(store, [], "e", 1, None, history=True))
    decode_header(next(lines))
    found = Lines()
    for line in lines:
        decode_line(line, found)
    columns = [(c.metric, c.refs, c.values, c.times) for c in found.columns]
    assert columns == [
        ("job.throughput", ["job/1", "job/1"], [5.0, 6.0], [20.0, 21.0]),  # the history
        ("gpu.util", gpus, [0.0, 1.0, 2.0, 20.0, 21.0, 22.0], [11.0] * 3 + [13.0] * 3),
        ("gpu.temp", gpus, [10.0 + i for i in range(6)], [12.0] * 6),
        ("job.throughput", [], [], []),  # its newest reading is the history's last point
    ]


async def test_a_relay_with_no_cycle_yet_is_asked_again_within_the_interval() -> None:
    # A collector starting reads its large fleet for seconds: the console asks again soon,
    # and reads the first cycle within a fraction of its interval of its being there.
    asked: list[float] = []

    def document(seq: int, *lines: bytes) -> bytes:
        header = (b'{"relay_version":%d,"epoch":"e","seq":%d,"full":true,"time":%f,'
                  b'"sources":[],"findings_changed":true,"analysed":false}')  # fmt: skip
        return b"\n".join([header % (RELAY_VERSION, seq, time.time()), *lines, b""])

    async def fleet(request: web.Request) -> web.Response:
        asked.append(time.monotonic())
        if len(asked) <= 3:
            return web.Response(body=document(0))
        return web.Response(body=document(1, b'{"entities":[{"ref":"node/n1","name":"n1"}]}'))

    app = web.Application()
    app.router.add_get("/v1/fleet", fleet)
    async with serving(app) as url:
        source = RelaySource(url, "token", interval=60.0)
        batch = await source.poll()  # one poll, four reads
        assert [entity.ref for entity in batch.entities] == ["node/n1"]
        assert len(asked) == 4 and asked[-1] - asked[0] < 10.0
        await source.close()


async def test_a_relay_with_no_cycle_is_read_once_an_interval() -> None:
    asked: list[float] = []

    async def fleet(request: web.Request) -> web.Response:
        asked.append(time.monotonic())
        header = (b'{"relay_version":%d,"epoch":"e","seq":0,"full":true,"time":null,'
                  b'"sources":[],"findings_changed":true,"analysed":false}\n')  # fmt: skip
        return web.Response(body=header % RELAY_VERSION)

    app = web.Application()
    app.router.add_get("/v1/fleet", fleet)
    async with serving(app) as url:
        source = RelaySource(url, "token", interval=0.5)
        batch = await source.poll()  # no cycle within its interval: an empty poll, ended
        assert batch.entities == [] and 1 <= len(asked) <= 3
        # An interval longer than the poll's own bound: asked within the bound (found in
        # review: an hour's interval outlived the engine's timeout, every poll failing).
        source.interval, source.timeout = 3600.0, source.request_timeout + 0.5
        asked.clear()
        async with asyncio.timeout(source.timeout):
            batch = await source.poll()
        assert batch.entities == [] and 1 <= len(asked) <= 3
        await source.close()
