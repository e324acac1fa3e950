"""The agent's HTTP server: endpoints, sharing, authentication, TLS, bounds."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import pytest
import trustme
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from console.agent.client import AgentSource, SharedSession, ssl_context
from console.agent.run import AgentUsageError, check_exposure, is_loopback, parse_listen
from console.agent.server import MAX_CONCURRENT, Collector, make_app
from console.agent.wire import decode
from console.api import Batch, Source, SourceError
from console.core.engine import Engine
from console.core.store import Store
from tests.integration.agents import raw_app, serving, sim_collector, wait_until


async def test_snapshot_metrics_and_healthz() -> None:
    async with serving(make_app(sim_collector(), None)) as url, aiohttp.ClientSession() as s:
        async with s.get(f"{url}/healthz") as response:
            assert (response.status, await response.text()) == (200, "ok\n")
        async with s.get(f"{url}/v1/snapshot") as response:
            document = await response.json()
        node, batch, statuses = decode(document)
        assert node == "node02" and document["api_version"] == 1
        assert len([e for e in batch.entities if e.kind == "gpu"]) == 8
        assert statuses[0]["status"] == "ok"
        async with s.get(f"{url}/metrics") as response:
            text = await response.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("watchfloor_gpu_util_percent", "watchfloor_gpu_power_watts",
                 "watchfloor_gpu_temp_celsius"):  # fmt: skip
        samples = families[name].samples
        assert {s.labels["gpu"] for s in samples} == {str(i) for i in range(8)}
        assert {s.labels["node"] for s in samples} == {"node02"}
    assert families["watchfloor_port_tx_bytes"].type == "counter"
    assert families["watchfloor_gpu_mem_total_bytes"].samples[0].value == 81559 * 1024 * 1024


async def test_one_collection_serves_concurrent_readers() -> None:
    collector = sim_collector()
    async with serving(make_app(collector, None)) as url, aiohttp.ClientSession() as s:

        async def get(path: str) -> int:
            async with s.get(f"{url}{path}") as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(get(p) for p in ["/v1/snapshot", "/metrics"] * 10))
    assert statuses == [200] * 20
    assert collector.collections == 1


async def test_token_is_required_and_a_wrong_one_gets_401_with_no_detail() -> None:
    async with serving(make_app(sim_collector(), "s3cret")) as url, aiohttp.ClientSession() as s:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            async with s.get(f"{url}/v1/snapshot", headers=headers) as response:
                assert response.status == 401
                assert await response.read() == b""
        async with s.get(f"{url}/metrics", headers={"Authorization": "Bearer s3cret"}) as response:
            assert response.status == 200
        async with s.get(f"{url}/healthz") as response:
            assert response.status == 200


async def test_concurrency_and_header_size_are_bounded() -> None:
    gate = asyncio.Event()

    class Held(Source):
        name, type = "held", "test"
        timeout = 30.0

        async def poll(self) -> Batch:
            await gate.wait()
            return Batch()

    collector = Collector(Engine(Store(), [Held()]), "n1")
    async with serving(make_app(collector, None)) as url, aiohttp.ClientSession() as s:

        async def get() -> int:
            async with s.get(f"{url}/v1/snapshot") as response:
                return response.status

        waiting = [asyncio.create_task(get()) for _ in range(MAX_CONCURRENT)]
        # All of them arrived: one holds the collection, the rest queue behind it.
        await wait_until(lambda: len(collector._lock._waiters or ()) == MAX_CONCURRENT - 1)
        assert await get() == 503
        gate.set()
        assert await asyncio.gather(*waiting) == [200] * MAX_CONCURRENT
        async with s.get(f"{url}/healthz", headers={"X-Big": "x" * 20_000}) as response:
            assert response.status in (400, 431)


def _tls_files(tmp_path):  # type: ignore[no-untyped-def]
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    client = ca.issue_cert("console@example")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(server_context)
    client_cert, client_key = tmp_path / "client.pem", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(client_cert)
    client.private_key_pem.write_to_path(client_key)
    return ca, ca_file, server_context, client_cert, client_key


async def _poll(source: AgentSource) -> str:
    try:
        await source.poll()
        return "ok"
    except SourceError as exc:
        return str(exc)
    finally:
        await source.close()


async def test_tls_and_client_certificates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ca, ca_file, server_context, client_cert, client_key = _tls_files(tmp_path)
    app = make_app(sim_collector(), None)
    async with serving(app, server_context) as url:
        trusted = ssl_context(str(ca_file), None, None)
        assert await _poll(AgentSource(url, 1.0, tls=trusted, session=SharedSession())) == "ok"
        unverified = await _poll(AgentSource(url, 1.0, session=SharedSession()))
        assert unverified.startswith("TLS: ")
    ca.configure_trust(server_context)
    server_context.verify_mode = ssl.CERT_REQUIRED  # now the agent wants a client cert
    async with serving(make_app(sim_collector(), None), server_context) as url:
        without = await _poll(AgentSource(url, 1.0, tls=trusted, session=SharedSession()))
        assert "does it want a client certificate" in without, without
        plain_http = url.replace("https://", "http://")
        spoken = await _poll(AgentSource(plain_http, 1.0, session=SharedSession()))
        assert "does it speak TLS? (use https://" in spoken, spoken
        mutual = ssl_context(str(ca_file), str(client_cert), str(client_key))
        assert await _poll(AgentSource(url, 1.0, tls=mutual, session=SharedSession())) == "ok"


def test_non_loopback_listen_needs_a_token_or_insecure() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5")
    check_exposure("127.0.0.1", None, False)
    check_exposure("0.0.0.0", "token", False)
    check_exposure("0.0.0.0", None, True)
    with pytest.raises(AgentUsageError, match=r"refusing to listen on 0\.0\.0\.0 without"):
        check_exposure("0.0.0.0", None, False)
    assert parse_listen("[::1]:9477") == ("::1", 9477)
    with pytest.raises(AgentUsageError, match="HOST:PORT"):
        parse_listen("9477")


async def test_redirects_from_an_agent_are_not_followed_and_say_where() -> None:
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/v1/snapshot")

    async with serving(raw_app(loop)) as url:
        reason = await _poll(AgentSource(url, 1.0, session=SharedSession()))
    assert reason.startswith("HTTP 302 redirect to /v1/snapshot: not followed")
