"""Helpers for tests that run real agents: in this process on loopback, or as processes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from console.agent.server import Collector, make_runner
from console.core.engine import Engine
from console.core.store import Store
from console.sim.simulation import Simulation
from console.sim.source import SimSource


@contextlib.asynccontextmanager
async def serving(app: web.Application, ssl_context=None) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """Serve ``app`` on a free loopback port; yields its base URL."""
    runner = make_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}" if scheme == "http" else f"https://localhost:{port}"
    finally:
        await runner.cleanup()


def sim_collector(node: str = "node02", seed: int = 1) -> Collector:
    """A real collector over one simulated node."""
    simulation = Simulation(seed=seed)
    source = SimSource(simulation, 1.0, name=f"sim-{node}", scope=node)
    return Collector(Engine(Store(history=1), [source]), node, max_age=0.5)


def raw_app(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.Application:
    """An app that answers /v1/snapshot with ``handler`` (a lying or broken agent)."""
    app = web.Application()
    app.router.add_get("/v1/snapshot", handler)
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_agent(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    """``watchfloor agent ARGS`` as a process; returns it and the URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "agent", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    if not line:
        raise RuntimeError(process.stderr.read().decode() if process.stderr else "no output")
    return process, line.split()[1]


async def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``condition`` until it holds (fails the test after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
