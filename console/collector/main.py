"""The collector process: sources, store merging and analysis, served to one UI.

Started by :mod:`console.collector.process` (``watchfloor collector``, a command for
the console itself, not for people). It serves its relay on a free loopback port,
closed by the token in the file it is given, prints ``relay <url>`` once listening,
and runs until its standard input closes (the console that started it is gone, by
``q`` or a crash) or it gets SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading

from aiohttp import web

from console.agent.server import make_runner
from console.core.engine import Engine
from console.core.garbage import young_collections_rarer
from console.serve.relay import Relay, make_relay_app

READY_PREFIX = "relay "
"""How the collector's one line on standard output begins."""
FIRST_READ_LIMIT = 10.0
"""Seconds the first analysis waits at most for the UI to read the fleet it follows
(:attr:`Engine.before_first_analysis`): the UI asks once an interval, and a 4,000-node
first document takes a few seconds to encode and send on a busy machine."""


def _stop_when_stdin_closes(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def relay_fleet_first(engine: Engine, limit: float = FIRST_READ_LIMIT) -> Relay:
    """The relay of ``engine``, which sends its reader the first poll's fleet before the
    first analysis (its findings the cycle after): the UI merges the fleet while this
    process analyses it."""
    relay = Relay(engine)
    engine.before_first_analysis = lambda: relay.sent(limit)
    return relay


async def collect_and_relay(engine: Engine, token: str) -> None:
    """Relay ``engine``'s store on loopback until told to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    _stop_when_stdin_closes(loop, stop)
    relay = relay_fleet_first(engine)
    runner = make_runner(make_relay_app(relay, token))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        engine.start()
        print(f"{READY_PREFIX}http://127.0.0.1:{port}", flush=True)
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()
        await engine.stop()


def run_collector(engine: Engine, token: str) -> None:
    """``watchfloor collector``: blocks until stopped."""
    with young_collections_rarer():
        asyncio.run(collect_and_relay(engine, token))
