"""The console polling agents: every way an agent can fail, isolation, recovery."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from aiohttp import web

from console.agent.client import MAX_BODY_BYTES, AgentSource, SharedSession, expand_urls
from console.agent.server import make_app
from console.agent.wire import WIRE_VERSION
from console.api import SourceError
from console.core.engine import Engine
from console.core.store import Store
from tests.integration.agents import (
    free_port,
    raw_app,
    serving,
    sim_collector,
    start_agent,
    wait_until,
)


async def _failure(url: str, **kw: object) -> str:
    source = AgentSource(url, 1.0, session=SharedSession(), **kw)  # type: ignore[arg-type]
    try:
        await source.poll()
    except SourceError as exc:
        return str(exc)
    finally:
        await source.close()
    return "ok"


def _document(**changes: object) -> dict[str, object]:
    document: dict[str, object] = {
        "wire_version": WIRE_VERSION, "node": "n1", "time": 1.0, "sources": [],
        "entities": [{"ref": "gpu/n1/0", "name": "GPU 0", "parent": "node/n1", "attrs": {}}],
        "samples": {"gpu/n1/0": {"gpu.util": 50}},
    }  # fmt: skip
    document.update(changes)
    return document


async def test_refused_and_401() -> None:
    assert (await _failure(f"http://127.0.0.1:{free_port()}")).startswith("refused or unreach")
    async with serving(make_app(sim_collector(), "right")) as url:
        assert await _failure(url, token="wrong") == "401 unauthorized: wrong or missing token"
        assert await _failure(url) == "401 unauthorized: wrong or missing token"
        assert await _failure(url, token="right") == "ok"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>garbage</html>", "bad JSON from agent"),
        (json.dumps(_document(wire_version=2)).encode(),
         "bad response: version mismatch: agent speaks wire version 2, this console "
         f"{WIRE_VERSION}"),
        (json.dumps([1, 2]).encode(), "bad response: expected a JSON object, got list"),
        (json.dumps(_document(samples=[["gpu/n1/0", "gpu.util"]])).encode(),
         "bad response: samples must map at most"),
        (json.dumps(_document(samples={"gpu/n1/0": {"gpu.util": "hot"}})).encode(),
         "bad response: value of gpu.util must be a finite number or null"),
        (json.dumps(_document(samples={"gpu/n1/0": {"gpu.util": True}})).encode(),
         "bad response: value of gpu.util must be a finite number or null"),
        (json.dumps(_document(samples={"gpu/n9/0": {"gpu.util": 1}})).encode(),
         "bad response: samples for 'gpu/n9/0' do not belong to node 'n1'"),
        (json.dumps(_document(entities=[{"ref": "gpu/n2/0", "name": "x", "attrs": {}}])).encode(),
         "bad response: entity 'gpu/n2/0' does not belong to node 'n1'"),
        (json.dumps(_document(entities=[{"ref": "link/a~b", "name": "x"}])).encode(),
         "bad response: entity 'link/a~b' does not belong to node 'n1'"),
        (b'{"wire_version": %d, "node": "n1", "entities": [], '
         b'"samples": {"gpu/n1/0": {"gpu.util": 1e999}}}' % WIRE_VERSION,
         "bad response: value of gpu.util must be a finite number or null"),
        (json.dumps(_document()).replace('"attrs": {}', '"attrs": {"temp": -1e999}').encode(),
         "bad response: attribute temp of gpu/n1/0 must be a finite number"),
    ],
)  # fmt: skip
async def test_lying_agents_are_failed_with_a_reason(body: bytes, expected: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async with serving(raw_app(handler)) as url:
        assert (await _failure(url)).startswith(expected)


async def test_truncated_and_oversized_responses() -> None:
    async def truncated(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100000"})
        await response.prepare(request)
        await response.write(b'{"wire_version": 1, "node": ')
        request.transport.close()  # type: ignore[union-attr]
        return response

    async def declared_huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(100 * 1024 * 1024)})
        await response.prepare(request)
        await response.write(b"x" * 1024)
        return response

    async def streamed_huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b" " * (1024 * 1024)
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            await response.write(chunk)
        return response

    for handler, expected in (
        (truncated, "truncated response"),
        (declared_huge, "response too large (104,857,600 bytes"),
        (streamed_huge, "response too large (over"),
    ):
        async with serving(raw_app(handler)) as url:
            assert (await _failure(url)).startswith(expected)


async def test_a_slow_agent_times_out_and_delays_no_other() -> None:
    never = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await never.wait()  # a 10 s (or worse) response
        return web.Response()

    async with serving(raw_app(slow)) as slow_url, serving(make_app(sim_collector(), None)) as ok:
        slow_source = AgentSource(slow_url, 0.2, timeout=1.0, session=SharedSession())
        fast_source = AgentSource(ok, 0.2, session=SharedSession())
        engine = Engine(Store(), [slow_source, fast_source])
        engine.start()
        try:
            await wait_until(lambda: engine.statuses()[1].polls >= 4)
            slow_status = engine.statuses()[0]
            assert slow_status.polls <= 1  # still on (or just past) its first poll
            await wait_until(lambda: engine.statuses()[0].reason == "timeout after 1s")
        finally:
            await engine.stop()
            never.set()  # let the server shut down
        assert engine.store.count("gpu") == 8


async def test_a_killed_agent_goes_stale_and_comes_back(tmp_path: Path) -> None:
    port = free_port()
    args = ("--sim", "node01", "--listen", f"127.0.0.1:{port}", "--interval", "0.5")
    process, url = start_agent(*args)
    other, other_url = start_agent("--sim", "node03", "--listen", "127.0.0.1:0")
    sources = [AgentSource(url, 0.5, session=SharedSession()),
               AgentSource(other_url, 0.5, session=SharedSession())]  # fmt: skip
    engine = Engine(Store(), sources)
    engine.start()
    try:
        await wait_until(lambda: [s.status for s in engine.statuses()] == ["ok", "ok"])
        process.send_signal(signal.SIGKILL)
        process.wait()
        await wait_until(lambda: engine.statuses()[0].status == "stale", timeout=1.0)
        assert engine.statuses()[0].reason.startswith("refused or unreachable")
        polls = engine.statuses()[1].polls
        await wait_until(lambda: engine.statuses()[1].polls >= polls + 2)
        assert engine.statuses()[1].status == "ok"
        assert engine.store.get("gpu/node01/0") is not None  # last data kept, shown stale
        process, _ = start_agent(*args)
        await wait_until(lambda: engine.statuses()[0].status == "ok", timeout=30)
    finally:
        await engine.stop()
        for proc in (process, other):
            proc.terminate()
            proc.wait()


def test_host_ranges_expand() -> None:
    assert expand_urls("https://gpu[001-003].example:9477") == [
        "https://gpu001.example:9477", "https://gpu002.example:9477",
        "https://gpu003.example:9477",
    ]  # fmt: skip
    assert expand_urls("http://a:1") == ["http://a:1"]
    with pytest.raises(ValueError, match="bad host range"):
        expand_urls("http://gpu[3-1]:1")


def test_snapshot_over_three_agents_a_dead_one_and_a_wrong_token(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("fleet-token\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("not-it\n")
    agents = [start_agent("--sim", node, "--listen", "127.0.0.1:0", "--token-file", str(token))
              for node in ("node01", "node02", "node03")]  # fmt: skip
    try:
        lines = [f"  - type: agent\n    url: {url}\n    token_file: token\n" for _, url in agents]
        lines.append(f"  - type: agent\n    url: http://127.0.0.1:{free_port()}\n")
        lines.append(f"  - type: agent\n    url: {agents[0][1]}\n    token_file: wrong\n")
        config = tmp_path / "config.yaml"
        config.write_text("sources:\n" + "".join(lines))
        result = subprocess.run(
            [sys.executable, "-m", "console.cli", "snapshot", "--config", str(config),
             "--format", "json"],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "XDG_CONFIG_HOME": "/nonexistent"},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        gpu_nodes = {gpu["ref"].split("/")[1] for gpu in document["gpus"]}
        assert {"node01", "node02", "node03"} <= gpu_nodes
        statuses = [s for s in document["sources"] if s["type"] == "agent"]
        assert [s["status"] for s in statuses] == ["ok", "ok", "ok", "failed", "failed"]
        assert statuses[3]["reason"].startswith("refused or unreachable")
        assert statuses[4]["reason"] == "401 unauthorized: wrong or missing token"
    finally:
        for process, _ in agents:
            process.terminate()
            process.wait()


def test_agent_refuses_a_public_listen_without_a_token() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "console.cli", "agent", "--sim", "node01", "--listen",
         "0.0.0.0:0"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without --token-file" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_agents_stop_with_the_demo() -> None:
    from console.agent.local import sim_agents

    with sim_agents("healthy", 1, 4, 1.0) as agents:
        pids = [p.pid for p in agents.processes]
        assert len(agents.urls) == 4 and all(psutil.pid_exists(pid) for pid in pids)
    assert all(p.poll() is not None for p in agents.processes)
