"""The prometheus plugin against real servers: Debian's ``prometheus`` scraping Debian's
``prometheus-node-exporter`` and two Watchfloor agents on simulated nodes (.ci/run
installs both packages), all on loopback with their own temporary directories."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from console.api import Batch, SourceError
from tests.conftest import FIXTURES
from tests.integration.agents import free_port, serving, start_agent
from watchfloor_prometheus.agent import AgentTable
from watchfloor_prometheus.dcgm import DcgmTable
from watchfloor_prometheus.exporter_source import ExporterSource
from watchfloor_prometheus.http import Client
from watchfloor_prometheus.query_source import PrometheusSource
from watchfloor_prometheus.tables import select

PROMETHEUS = shutil.which("prometheus")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
NEEDS_SERVERS = pytest.mark.skipif(
    PROMETHEUS is None or NODE_EXPORTER is None,
    reason="Debian packages 'prometheus' and 'prometheus-node-exporter' not installed",
)
HOST = socket.gethostname().split(".")[0]
DCGM_FILES = ("dcgm-exporter/h100-8gpu-sampled.txt", "dcgm-exporter/h100-mig-issue512-excerpt.txt")
"""Real dcgm-exporter outputs node_exporter serves through its textfile collector."""


def dcgm_textfile() -> str:
    """The dcgm fixtures as one textfile: sample lines only, each family together
    (node_exporter's parser wants that), so Prometheus holds real dcgm series."""
    lines = [line for path in DCGM_FILES for line in (FIXTURES / path).read_text().splitlines()
             if line and not line.startswith("#")]  # fmt: skip
    return "\n".join(sorted(lines, key=lambda line: line.partition("{")[0])) + "\n"


def _query(port: int, expression: str, at: float | None = None) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(expression)}"
    url += f"&time={at}" if at is not None else ""
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]["result"]  # type: ignore[no-any-return]


def _wait_for(condition: object, what: str, timeout: float = 90.0) -> None:
    """Poll until ``condition()`` holds: Prometheus scrapes on its own clock."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():  # type: ignore[operator]
                return
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Prometheus (its port is yielded) scraping node_exporter and agents node01, node02."""
    tmp = tmp_path_factory.mktemp("prometheus")
    (tmp / "dcgm.prom").write_text(dcgm_textfile())
    processes: list[subprocess.Popen[bytes]] = []
    try:
        exporter_port = free_port()
        processes.append(subprocess.Popen(
            [NODE_EXPORTER or "node_exporter", f"--web.listen-address=127.0.0.1:{exporter_port}",
             f"--collector.textfile.directory={tmp}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        agents = []
        for node in ("node01", "node02"):
            process, url = start_agent("--sim", node, "--listen", "127.0.0.1:0")
            processes.append(process)
            agents.append(url.split("://", 1)[1])
        port = free_port()
        (tmp / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
            f"  - job_name: node\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{exporter_port}']\n"
            f"  - job_name: watchfloor\n    static_configs:\n      - targets: {agents}\n"
        )
        processes.append(subprocess.Popen(
            [PROMETHEUS or "prometheus", f"--config.file={tmp / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        _wait_for(lambda: len([s for s in _query(port, "up == 1")]) == 3, "three targets up")
        _wait_for(lambda: len(_query(port, "watchfloor_gpu_util_percent")) == 16, "agent GPUs")
        dcgm = len(dcgm_textfile().splitlines())
        _wait_for(lambda: len(_query(port, '{__name__=~"DCGM_FI_.+"}')) == dcgm, "dcgm series")
        yield port
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()


def _source(url: str, **options: object) -> PrometheusSource:
    exporters = str(options.pop("exporters", "auto"))
    selector = str(options.pop("selector", ""))
    timeout = float(options.pop("timeout", 10.0))  # type: ignore[arg-type]
    return PrometheusSource(url, 1.0, select(exporters), selector, timeout,
                            client=Client(timeout, None, None))  # fmt: skip


@NEEDS_SERVERS
async def test_query_source_shows_the_agents_gpus_and_this_machines_interfaces(fleet: int) -> None:
    source = _source(f"http://127.0.0.1:{fleet}")

    def util() -> float:
        answer = _query(fleet, 'watchfloor_gpu_util_percent{node="node01",gpu="3"}')
        return float(answer[0]["value"][1])  # type: ignore[index]

    try:
        for _ in range(20):  # Prometheus scrapes every second: a refresh between two scrapes
            before, batch, after = util(), await source.poll(), util()
            if before == after:
                break
    finally:
        await source.close()
    refs = {entity.ref for entity in batch.entities}
    gpus = {ref for ref in refs if ref.startswith("gpu/")}
    agents = {f"gpu/{node}/{i}" for node in ("node01", "node02") for i in range(8)}
    dcgm = {f"gpu/gpu-node-1/{i}" for i in range(8)} | {"gpu/gsrh100-074/0"}  # node_exporter's
    assert gpus == agents | dcgm  # textfile serves the dcgm fixtures
    interfaces = {name for name in os.listdir("/sys/class/net") if name != "lo"}
    assert {f"port/{HOST}/{name}" for name in interfaces} <= refs
    values = {(s.ref, s.metric): s.value for s in batch.as_samples()}
    assert values[("gpu/node01/3", "gpu.util")] == before
    assert values[("gpu/node02/0", "gpu.mem_total")] == pytest.approx(81559.0)
    assert values[("port/node01/mlx5_0:1", "port.tx_bytes")] > 0
    assert values[(f"node/{HOST}", "node.mem_total")] > 0  # node_exporter's meminfo
    assert all(ref.split("/")[1] != f"127.0.0.1:{fleet}" for ref in refs)


class WholeDcgmTable(DcgmTable):
    """The dcgm table read with one query, every label with every value (as before)."""

    identity: tuple[str, ...] = ()


def content(batch: Batch) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    """What the store keeps of a batch: entities with their attributes, and readings."""
    entities = {e.ref: (e.name, e.parent, e.attrs) for e in batch.entities}
    return entities, {(s.ref, s.metric): repr(s.value) for s in batch.as_samples()}


@NEEDS_SERVERS
async def test_dcgm_through_prometheus_in_two_parts_as_in_one_query_and_in_the_files(
    fleet: int,
) -> None:
    url = f"http://127.0.0.1:{fleet}"
    split = _source(url, exporters="dcgm")
    whole = PrometheusSource(url, 1.0, [WholeDcgmTable()], client=Client(10.0, None, None))
    try:
        first, second, before = await split.poll(), await split.poll(), await whole.poll()
    finally:
        await split.close()
        await whole.close()
    assert split.queries[0].names  # the second refresh read each name with its own query
    assert content(first) == content(second) == content(before)
    from_files = ExporterSource("file:///x.prom", 1.0, select("dcgm")).read(dcgm_textfile(), 0.0)
    assert content(first) == content(from_files)
    gpus = {ref for ref in content(first)[0] if ref.startswith("gpu/")}
    assert gpus == {f"gpu/gpu-node-1/{i}" for i in range(8)} | {"gpu/gsrh100-074/0"}


class WholeAgentTable(AgentTable):
    """The agent table read with one query, every label with every value (as before)."""

    identity: tuple[str, ...] = ()


@NEEDS_SERVERS
async def test_agents_through_prometheus_in_two_parts_are_the_same_entities(fleet: int) -> None:
    url = f"http://127.0.0.1:{fleet}"
    split = _source(url, exporters="watchfloor")
    whole = PrometheusSource(url, 1.0, [WholeAgentTable()], client=Client(10.0, None, None))
    try:
        first, second, before = await split.poll(), await split.poll(), await whole.poll()
    finally:
        await split.close()
        await whole.close()
    assert split.queries[0].names
    # the simulated nodes move on between two scrapes: the values may differ, not what they are of
    assert content(first)[0] == content(second)[0] == content(before)[0]
    assert content(first)[1].keys() == content(second)[1].keys() == content(before)[1].keys()
    assert content(first)[0]["gpu/node01/3"][2]["uuid"].startswith("GPU-")


@NEEDS_SERVERS
async def test_the_exporter_source_reads_a_real_node_exporter(fleet: int) -> None:
    targets = _query(fleet, 'up{job="node"}')
    instance = targets[0]["metric"]["instance"]  # type: ignore[index]
    source = ExporterSource(f"http://{instance}/metrics", 1.0, select("auto"))
    try:
        batch = await source.poll()
    finally:
        await source.close()
    refs = {entity.ref for entity in batch.entities}
    interfaces = {name for name in os.listdir("/sys/class/net") if name != "lo"}
    assert {f"port/{HOST}/{name}" for name in interfaces} <= refs
    rx = {s.ref: s.value for s in batch.as_samples() if s.metric == "port.rx_bytes"}
    for name in interfaces:
        on_sysfs = int(Path(f"/sys/class/net/{name}/statistics/rx_bytes").read_text())
        assert 0 <= on_sysfs - (rx[f"port/{HOST}/{name}"] or 0) < 10**9  # counters only grow


@NEEDS_SERVERS
async def test_a_query_prometheus_refuses_is_the_reason(fleet: int) -> None:
    source = _source(f"http://127.0.0.1:{fleet}", selector='job=~"("', exporters="dcgm")
    try:
        with pytest.raises(SourceError, match=r"^dcgm (identity )?query: bad_data: .*"):
            await source.poll()
    finally:
        await source.close()


async def test_a_server_that_is_down_is_refused() -> None:
    source = _source(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(SourceError, match="prometheus refused or unreachable"):
            await source.poll()
    finally:
        await source.close()


async def test_a_server_that_does_not_answer_is_a_timeout() -> None:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="{}")

    app = web.Application()
    app.router.add_post("/api/v1/query", hang)
    async with serving(app) as url:
        source = _source(url, timeout=0.3)
        try:
            with pytest.raises(SourceError, match=r"prometheus: timeout after 0.3s"):
                await source.poll()
        finally:
            release.set()
            await source.close()


async def test_an_error_answer_without_json_names_the_status() -> None:
    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, text="404 page not found")

    app = web.Application()
    app.router.add_post("/api/v1/query", missing)
    async with serving(app) as url:
        source = _source(url)
        try:
            with pytest.raises(SourceError, match=r"HTTP 404 from .*/api/v1/query"):
                await source.poll()
        finally:
            await source.close()


@NEEDS_SERVERS
async def test_the_past_read_with_query_range_is_what_prometheus_answered_then(fleet: int) -> None:
    expression = 'watchfloor_gpu_util_percent{node="node01",gpu="3"}'
    _wait_for(lambda: float(_query(fleet, f"count_over_time({expression}[10s])")[0]["value"][1])  # type: ignore[index]
              >= 9, "ten seconds of scrapes")  # fmt: skip
    end = float(int(time.time()) - 1)
    source = _source(f"http://127.0.0.1:{fleet}", exporters="watchfloor")
    try:
        batches = await source.past(end - 4, end, 1)
    finally:
        await source.close()
    assert [batch.time for batch in batches] == [end - 4, end - 3, end - 2, end - 1, end]
    for batch in batches:
        values = {(s.ref, s.metric): s.value for s in batch.as_samples()}
        then = _query(fleet, expression, at=batch.time)
        assert values[("gpu/node01/3", "gpu.util")] == float(then[0]["value"][1])  # type: ignore[index]
        assert {e.ref for e in batch.entities} >= {f"gpu/node0{n}/{i}" for n in (1, 2)
                                                   for i in range(8)}  # fmt: skip
