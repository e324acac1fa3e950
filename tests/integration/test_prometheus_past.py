"""Rewind before the flight recording starts reads the ``prometheus`` source's past
(``query_range``): the source's batches, then the console's rewind through Pilot.

The server is the stand-in of ``tests/fakes/prometheus_api.py`` (real HTTP on
loopback) holding real dcgm-exporter series whose GPU utilisation is a function of
time, so each second it is asked about has its own answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from console.api import SourceError
from console.sim.cluster import EPOCH
from tests.fakes.prometheus_api import PrometheusApi
from tests.functional.test_rewind import header, onset_app, settle
from tests.integration.agents import serving
from tests.integration.test_cli import run
from tests.integration.test_prometheus_query_join import scraped
from watchfloor_prometheus.dcgm import DcgmTable
from watchfloor_prometheus.exposition import Series
from watchfloor_prometheus.http import Client
from watchfloor_prometheus.query_source import PrometheusSource

FIXTURE = "dcgm-exporter/h100-8gpu-sampled.txt"


def util_at(when: float) -> float:
    """The utilisation the server held at a time (whole seconds: a new value each)."""
    return float(int(when) % 97)


HOT_UNTIL = EPOCH - 1800.0
"""Before this the server held GPU 3 at 95 °C (hot: a finding), after it as captured."""


def held_at(when: float) -> list[Series]:
    def value_at(name: str, labels: dict[str, str], value: float) -> float:
        if name == "DCGM_FI_DEV_GPU_UTIL":
            return util_at(when)
        if name == "DCGM_FI_DEV_GPU_TEMP" and labels.get("gpu") == "3" and when < HOT_UNTIL:
            return 95.0
        return value

    return [(name, labels, value_at(name, labels, value))
            for name, labels, value in scraped(FIXTURE, "10.0.0.1:9400")]  # fmt: skip


def stand_in() -> PrometheusApi:
    api = PrometheusApi(held_at(EPOCH))
    api.past = held_at
    return api


def gpu_utils(batch_samples: list[tuple[str, str, float | None]]) -> set[float | None]:
    return {value for _ref, metric, value in batch_samples if metric == "gpu.util"}


async def test_past_is_one_batch_per_step_from_query_range() -> None:
    api = stand_in()
    async with serving(api.app()) as url:
        source = PrometheusSource(url, 1.0, [DcgmTable()], client=Client(10.0, None, None))
        try:
            batches = await source.past(EPOCH - 100, EPOCH - 40, 20)
        finally:
            await source.close()
    assert [query[1:] for query in api.range_queries] == [(EPOCH - 100, EPOCH - 40, 20.0)]
    assert [batch.time for batch in batches] == [EPOCH - 100, EPOCH - 80, EPOCH - 60, EPOCH - 40]
    for batch in batches:
        assert batch.time is not None
        utils = gpu_utils([(s.ref, s.metric, s.value) for s in batch.samples])
        assert utils == {util_at(batch.time)}
        assert len({e.ref for e in batch.entities if e.ref.startswith("gpu/")}) == 8


async def test_a_refused_range_query_is_the_servers_reason() -> None:
    api = stand_in()
    async with serving(api.app()) as url:
        source = PrometheusSource(url, 1.0, [DcgmTable()], client=Client(10.0, None, None))
        try:
            with pytest.raises(SourceError, match="bad_data: bad start, end or step"):
                await source.past(EPOCH, EPOCH - 10, 1)  # end before start: refused
        finally:
            await source.close()


async def test_rewind_before_the_recording_reads_prometheus(tmp_path: Path) -> None:
    api = stand_in()
    async with serving(api.app()) as url:
        prometheus = PrometheusSource(url, 1.0, [DcgmTable()], client=Client(10.0, None, None))
        app = onset_app()
        app.past_sources = [prometheus]
        async with app.run_test(size=(120, 40)) as pilot:
            from console.recording import Recorder

            recorder = Recorder(tmp_path / "rec")
            recorder.attach(app.engine)
            app.recording = tmp_path / "rec"
            for _ in range(5):
                await app.engine.collect(1)
                recorder.flush()
            first = EPOCH + 1.0  # the recording's first frame (the simulator's clock)

            app.seek(first + 2)  # inside the recording: Prometheus is not asked
            await settle(app, pilot)
            assert app.rewind_at == first + 2 and app.rewind_origin is None
            assert api.range_queries == []
            assert "from prometheus" not in header(app)

            when = first - 3600.0  # an hour before the recording began
            app.seek(when)
            await settle(app, pilot)
            assert app.rewind_at == when
            assert app.rewind_origin == prometheus.name
            assert f"from {prometheus.name}" in header(app)
            # Two minutes shown (the sparklines' span), 60 points: a 2 s step.
            assert [query[1:] for query in api.range_queries] == [(when - 120, when, 2.0)]
            gpus = [ref for ref in app.store.entities if ref.startswith("gpu/")]
            assert len(gpus) == 8
            assert {app.store.value(ref, "gpu.util") for ref in gpus} == {util_at(when)}
            history = app.store.history(gpus[0], "gpu.util")
            assert len(history) > 30 and history[-1] == util_at(when)
            assert app.store.value("gpu/node01/0", "gpu.util") is None  # not the live fleet
            # The findings are the console's analysis of those readings, as of then.
            hot = [f.ref for f in app.store.findings if f.kind == "gpu-hot"]
            assert hot == [ref for ref in gpus if app.store.value(ref, "gpu.temp") == 95.0]
            assert len(hot) == 1

            await pilot.press("L")
            await pilot.pause()
            assert app.rewind_at is None and app.rewind_origin is None
            recorder.close()
        await prometheus.close()


async def test_snapshot_at_a_time_before_any_recording_asks_prometheus(tmp_path: Path) -> None:
    api = stand_in()
    when = HOT_UNTIL - 600.0  # GPU 3 was hot then; no recording exists here at all
    async with serving(api.app()) as url:
        config = tmp_path / "config.yaml"
        config.write_text(f"sources:\n  - type: prometheus\n    url: {url}\n")
        at = dt.datetime.fromtimestamp(when, dt.UTC).isoformat()
        answer = await asyncio.to_thread(
            run, "snapshot", "--at", at, "--config", str(config), "--format", "json",
            env={"XDG_STATE_HOME": str(tmp_path / "state")},
        )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    # One range query per table the source reads (dcgm, node, agents ...), each the same span.
    assert {query[1:] for query in api.range_queries} == {(when - 120, when, 2.0)}
    document = json.loads(answer.stdout)
    assert len(document["gpus"]) == 8
    assert {gpu["util"] for gpu in document["gpus"]} == {util_at(when)}
    hot = [f["ref"] for f in document["findings"] if f["kind"] == "gpu-hot"]
    assert hot == [gpu["ref"] for gpu in document["gpus"] if gpu["temp_c"] == 95.0]
    assert len(hot) == 1
