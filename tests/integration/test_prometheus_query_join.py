"""The ``prometheus`` source's two-part reading (identity now and then, values every
refresh, joined) gives the store what one query with every label gave, and what the
exporter source reads from the same exposition.

The server is the stand-in of ``tests/fakes/prometheus_api.py`` (real HTTP on
loopback) holding real dcgm-exporter outputs, because these tests change the series
between refreshes; ``test_prometheus_sources.py`` runs the same comparison against
a real Prometheus.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

from console.api import Batch, SourceError
from tests.conftest import FIXTURES
from tests.fakes.prometheus_api import PrometheusApi
from tests.integration.agents import serving
from watchfloor_prometheus import http, query_source
from watchfloor_prometheus.dcgm import KINDS, DcgmTable
from watchfloor_prometheus.exposition import Series, parse
from watchfloor_prometheus.http import Client
from watchfloor_prometheus.mapping import Builder, Scope
from watchfloor_prometheus.query_source import PrometheusSource
from watchfloor_prometheus.tables import map_series, select

DCGM = ("dcgm-exporter/t4-a10g-metrics.txt", "dcgm-exporter/h100-8gpu-sampled.txt",
        "dcgm-exporter/h100-mig-issue512-excerpt.txt")  # fmt: skip


class WholeDcgmTable(DcgmTable):
    """The dcgm table read with one query, every label with every value (as before)."""

    identity: tuple[str, ...] = ()


def scraped(path: str, instance: str) -> list[Series]:
    """An exposition's series as Prometheus keeps them: plus ``instance`` and ``job``,
    empty labels dropped."""
    return [
        (name, {**{k: v for k, v in labels.items() if v}, "instance": instance, "job": "dcgm"},
         value)
        for name, labels, value in parse((FIXTURES / path).read_text())
    ]  # fmt: skip


def content(batch: Batch) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    """What the store keeps of a batch: entities with their attributes, and readings."""
    entities = {e.ref: (e.name, e.parent, e.attrs) for e in batch.entities}
    return entities, {(s.ref, s.metric): repr(s.value) for s in batch.as_samples()}


def source(url: str, table: DcgmTable, **options: Any) -> PrometheusSource:
    return PrometheusSource(url, 1.0, [table], client=Client(10.0, None, None), **options)


async def test_split_reads_give_what_one_query_gave_and_what_the_file_says() -> None:
    series = [s for n, path in enumerate(DCGM) for s in scraped(path, f"10.0.0.{n}:9400")]
    api = PrometheusApi(series)
    async with serving(api.app()) as url:
        split, whole = source(url, DcgmTable()), source(url, WholeDcgmTable())
        try:
            first = await split.poll()
            asked = len(api.queries)
            second = await split.poll()
            values_only = api.queries[asked:]
            before = await whole.poll()
        finally:
            await split.close()
            await whole.close()
    assert content(first) == content(second) == content(before)
    # The file read by the exporter source, less the fields the table does not map
    # (the query asks for mapped fields only: an A10G with none of them is not seen).
    scope = Scope(time=0.0, default_node="x")
    out = Builder()
    for path in DCGM:
        text = (FIXTURES / path).read_text()
        map_series([s for s in parse(text) if s[0] in KINDS], select("dcgm"), scope, out)
    from_files = out.batch(0.0)
    assert content(first) == content(from_files)
    entities = content(first)[0]
    assert entities["gpu/gsrh100-074/0"][2]["mig"][0]["profile"] == "1g.10gb"
    assert entities["gpu/gpu-node-1/0"][2]["pods"] == [
        "dynamo-workload/vllm-agg-0-vllmdecodeworker-s65j5"
    ]
    # the second refresh read values only: a query per name, then one for any other name;
    # the label sets read are told apart without the UUID: the values are read without it
    key = "Hostname, hostname, instance, gpu, GPU_I_ID"
    assert f'max by ({key}) ({{__name__="DCGM_FI_DEV_GPU_TEMP"}})' in values_only
    assert values_only[-1].startswith(f"max by (__name__, {key}) (")
    assert not any(query.startswith("count by") for query in values_only)


async def test_a_gpu_new_since_the_identity_was_read_gets_its_identity_at_once() -> None:
    one = scraped("dcgm-exporter/h100-8gpu-sampled.txt", "10.0.0.1:9400")
    api = PrometheusApi([s for s in one if s[1]["gpu"] != "7"])
    async with serving(api.app()) as url:
        split, whole = source(url, DcgmTable()), source(url, WholeDcgmTable())
        try:
            await split.poll()
            asked = len(api.queries)
            api.set_series(one)  # GPU 7 appears
            after, before = await split.poll(), await whole.poll()
        finally:
            await split.close()
            await whole.close()
    assert content(after) == content(before)
    assert content(after)[0]["gpu/gpu-node-1/7"][2]["model"] == "NVIDIA H100 80GB HBM3"
    identity_reads = [q for q in api.queries[asked:] if q.startswith("count by")]
    assert len(identity_reads) == 2  # label sets and names, once, in that refresh


async def test_a_name_new_since_the_identity_was_read_is_read_and_then_listed() -> None:
    one = scraped("dcgm-exporter/h100-8gpu-sampled.txt", "10.0.0.1:9400")
    api = PrometheusApi([s for s in one if s[0] != "DCGM_FI_DEV_POWER_USAGE"])
    async with serving(api.app()) as url:
        split, whole = source(url, DcgmTable()), source(url, WholeDcgmTable())
        try:
            await split.poll()
            api.set_series(one)
            found, before = await split.poll(), await whole.poll()  # by the catch-all query
            listed = await split.poll()  # which lists the names again
            asked = len(api.queries)
            own = await split.poll()  # and now reads it with a query of its own
        finally:
            await split.close()
            await whole.close()
    assert content(found) == content(before) == content(listed) == content(own)
    assert ("gpu/gpu-node-1/0", "gpu.power") in content(found)[1]
    assert any('{__name__="DCGM_FI_DEV_POWER_USAGE"}' in q for q in api.queries[asked:])


async def test_one_gpu_several_pods_keeps_every_pod() -> None:
    one = scraped("dcgm-exporter/h100-8gpu-sampled.txt", "10.0.0.1:9400")
    shared = [(name, {**labels, "pod": f"{labels.get('pod', 'a')}-2", "namespace": "ns"}, value)
              for name, labels, value in one if labels["gpu"] == "0"]  # fmt: skip
    api = PrometheusApi(one + shared)
    async with serving(api.app()) as url:
        split, whole = source(url, DcgmTable()), source(url, WholeDcgmTable())
        try:
            await split.poll()
            again, before = await split.poll(), await whole.poll()
        finally:
            await split.close()
            await whole.close()
    assert content(again) == content(before)
    assert len(content(again)[0]["gpu/gpu-node-1/0"][2]["pods"]) == 2


async def test_the_identity_is_read_again_after_its_interval() -> None:
    api = PrometheusApi(scraped("dcgm-exporter/h100-8gpu-sampled.txt", "10.0.0.1:9400"))
    async with serving(api.app()) as url:
        every, seldom = source(url, DcgmTable(), identity_interval=0.0), source(url, DcgmTable())
        try:
            for _ in range(3):
                await every.poll()
            reads = sum(q.startswith("count by") for q in api.queries)
            for _ in range(3):
                await seldom.poll()
        finally:
            await every.close()
            await seldom.close()
    # the names first, then label sets and names with the values, every refresh
    assert reads == 1 + 2 * 3
    assert sum(q.startswith("count by") for q in api.queries) == reads + 1 + 2  # once in three


async def test_an_identity_read_that_finds_the_same_label_sets_keeps_the_joins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[bytes] = []
    decode = query_source.decode_label_sets

    def counted(body: bytes, *more: Any) -> Any:
        decoded.append(body)
        return decode(body, *more)

    monkeypatch.setattr(query_source, "decode_label_sets", counted)
    one = scraped("dcgm-exporter/h100-8gpu-sampled.txt", "10.0.0.1:9400")
    api = PrometheusApi([s for s in one if s[1]["gpu"] != "7"])
    async with serving(api.app()) as url:
        split = source(url, DcgmTable(), identity_interval=0.0)  # read every refresh
        whole = source(url, WholeDcgmTable())
        try:
            await split.poll()  # values with the whole key, then the label sets
            await split.poll()  # values without the UUID, which the label sets do not need
            join = split.queries[0].join
            await split.poll()
            kept = split.queries[0].join
            api.set_series(one)  # GPU 7 appears: other label sets
            after, before = await split.poll(), await whole.poll()
            changed = split.queries[0].join
        finally:
            await split.close()
            await whole.close()
    assert join is not None and kept is join and changed is not join
    assert len(decoded) == 2  # the same texts again are not decoded again
    assert split.queries[0].value_key == ("Hostname", "hostname", "instance", "gpu", "GPU_I_ID")
    assert content(after) == content(before)
    assert "gpu/gpu-node-1/7" in content(after)[0]


async def test_gpus_told_apart_only_by_their_uuid_are_read_with_it() -> None:
    no_index = [(name, {k: v for k, v in labels.items() if k not in ("gpu", "device")}, value)
                for name, labels, value in scraped("dcgm-exporter/h100-8gpu-sampled.txt",
                                                   "10.0.0.1:9400")]  # fmt: skip
    api = PrometheusApi(no_index)
    async with serving(api.app()) as url:
        split, whole = source(url, DcgmTable()), source(url, WholeDcgmTable())
        try:
            await split.poll()
            asked = len(api.queries)
            again, before = await split.poll(), await whole.poll()
        finally:
            await split.close()
            await whole.close()
    assert split.queries[0].value_key == ()  # without the UUID, 8 GPUs would be one
    assert all("UUID" in query for query in api.queries[asked:])
    assert content(again) == content(before)
    assert len([e for e in again.entities if e.kind == "gpu"]) == 8


class ColumnsWatchingTable(DcgmTable):
    """The dcgm table, noting whether each refresh was read a column at a time."""

    def __init__(self) -> None:
        self.by_columns: list[bool] = []

    def map_columns(self, columns: Any, scope: Scope, out: Builder) -> bool:
        self.by_columns.append(super().map_columns(columns, scope, out))
        return self.by_columns[-1]


async def test_gpus_without_pods_are_read_a_column_at_a_time_as_one_query_read_them() -> None:
    pods = ("pod", "namespace", "container")
    no_pods = [(name, {k: v for k, v in labels.items() if k not in pods}, value)
               for name, labels, value in scraped("dcgm-exporter/h100-8gpu-sampled.txt",
                                                  "10.0.0.1:9400")]  # fmt: skip
    api = PrometheusApi(no_pods)
    table = ColumnsWatchingTable()
    async with serving(api.app()) as url:
        split, whole = source(url, table), source(url, WholeDcgmTable())
        try:
            first = await split.poll()
            api.set_series([(name, labels, value + 1) for name, labels, value in no_pods])
            second, before = await split.poll(), await whole.poll()
        finally:
            await split.close()
            await whole.close()
    assert table.by_columns == [True, True]
    assert content(second) == content(before) != content(first)
    assert len([e for e in second.entities if e.kind == "gpu"]) == 8


class GcWatchingTable(DcgmTable):
    """The dcgm table, noting whether the cyclic collector ran while it mapped."""

    def __init__(self) -> None:
        self.collecting: list[bool] = []

    def map(self, series: Any, scope: Scope, out: Builder) -> None:
        self.collecting.append(gc.isenabled())
        super().map(series, scope, out)


async def test_a_refresh_maps_with_the_cyclic_collector_paused_and_turns_it_back_on() -> None:
    api = PrometheusApi(scraped("dcgm-exporter/h100-8gpu-sampled.txt", "10.0.0.1:9400"))
    table = GcWatchingTable()
    async with serving(api.app()) as url:
        split = source(url, table)
        try:
            batch = await split.poll()
        finally:
            await split.close()
    assert table.collecting == [False]  # 1.1 million samples at 10,000 nodes, none garbage
    assert gc.isenabled()
    assert len([e for e in batch.entities if e.kind == "gpu"]) == 8


async def test_an_answer_over_the_body_cap_fails_the_refresh_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The cap (256 MB: 10,000 nodes' largest answer is about 18 MB) still holds for the
    # split reads: a hostile server's oversized answer fails the poll, nothing more.
    api = PrometheusApi(scraped("dcgm-exporter/h100-8gpu-sampled.txt", "10.0.0.1:9400"))
    monkeypatch.setattr(http, "MAX_BODY_BYTES", 600)
    async with serving(api.app()) as url:
        split = source(url, DcgmTable())
        try:
            with pytest.raises(SourceError, match="response too large"):
                await split.poll()
        finally:
            await split.close()
    assert gc.isenabled()
