"""``watchfloor serve``: one collector, and the console for every browser that connects.

textual-serve starts one console process per browser session. Each of those reads
the collector's relay (a loopback endpoint closed by a per-run token), never the
fleet: a hundred viewers cost the agents what one console costs.

    browser ──ws──► textual-serve ──► viewer process (console, type: console source)
                                              │  GET /v1/fleet (loopback, token)
    agents ◄── polls ── one engine (this process) ◄┘
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.server import Server

from console.agent.run import is_loopback
from console.agent.server import make_runner
from console.alerting.metrics import FindingsCollector, metrics_handler
from console.collector.watch import Consumer, consume
from console.core.engine import Engine
from console.serve import ServeUsageError
from console.serve.guard import Guard, add_headers, allowed_hosts, clamp_size
from console.serve.relay import Relay, make_relay_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class ServeOptions:
    """What ``watchfloor serve`` was asked to do."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public: bool = False
    """Allow a non-loopback address (behind an authenticating proxy)."""
    public_url: str | None = None
    """The URL browsers reach this at, when a proxy stands in front."""
    title: str = "watchfloor"
    viewer_args: list[str] = field(default_factory=list)
    """Flags passed on to each viewer console (``--wall``, ``--theme``, ``--config``)."""


def check_exposure(options: ServeOptions) -> None:
    """Refuse to serve beyond this machine unless told to (textual-serve has no login)."""
    if not is_loopback(options.host) and not options.public:
        raise ServeUsageError(
            f"refusing to serve on {options.host} without --public: the console has no "
            "login, so anyone who can reach it sees the fleet (put an authenticating "
            "proxy in front and give --public)"
        )


class ConsoleServer(Server):
    """textual-serve's server, run in our event loop on a socket we bound, behind the
    guard (Host, Origin, session and window caps, security headers: ``guard.py``)."""

    def __init__(self, *args: object, guard: Guard, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.guard = guard

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self.guard.middleware)
        app.on_response_prepare.append(add_headers)
        return app

    async def _process_messages(self, websocket: web.WebSocketResponse, app_service: Any) -> None:
        # A resize message is a window size like any other: cut to the cap.
        resize = app_service.set_terminal_size

        async def clamped(width: object, height: object) -> None:
            await resize(*clamp_size(width, height))

        app_service.set_terminal_size = clamped
        await super()._process_messages(websocket, app_service)

    async def on_startup(self, app: web.Application) -> None:
        pass  # no banner: `serve` prints one line of its own


def write_token(directory: Path) -> tuple[str, Path]:
    """A fresh random token in a file only this user can read."""
    token = secrets.token_urlsafe(32)
    path = directory / "relay-token"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token, path


def viewer_command(relay_url: str, token_file: Path, options: ServeOptions) -> str:
    """The shell command textual-serve runs for each browser session."""
    argv = [sys.executable, "-m", "console.cli", "viewer", "--relay", relay_url,
            "--token-file", str(token_file), "--title", options.title]  # fmt: skip
    return shlex.join([*argv, *options.viewer_args])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeUsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(
    options: ServeOptions,
    engine: Engine,
    consumers: list[Consumer] | None = None,
    metrics: FindingsCollector | None = None,
) -> None:
    """Collect, relay and serve until SIGINT or SIGTERM.

    ``consumers`` get every analysis cycle of the one collector (alerting: a site runs
    one collector for the browsers and the pager); ``metrics`` adds ``GET /metrics``.
    """
    sock = _bind(options.host, options.port)
    runners: list[web.AppRunner] = []
    consumers_stop = asyncio.Event()
    consuming: asyncio.Task[None] | None = None
    with tempfile.TemporaryDirectory(prefix="watchfloor-serve-") as secret_dir:
        try:
            token, token_file = write_token(Path(secret_dir))
            engine.start()
            consuming = asyncio.create_task(consume(engine, consumers or [], consumers_stop))
            relay = Relay(engine)
            relay_runner = make_runner(make_relay_app(relay, token))
            await relay_runner.setup()
            runners.append(relay_runner)
            relay_site = web.TCPSite(relay_runner, "127.0.0.1", 0)
            await relay_site.start()
            relay_port = relay_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            port = sock.getsockname()[1]
            shown_host = f"[{options.host}]" if ":" in options.host else options.host
            public_url = options.public_url or f"http://{shown_host}:{port}"
            server = ConsoleServer(
                viewer_command(f"http://127.0.0.1:{relay_port}", token_file, options),
                host=options.host, port=port, title=options.title, public_url=public_url,
                guard=Guard(allowed_hosts(options.host, options.public_url),
                            public_url=options.public_url),
            )  # fmt: skip
            web_app = await server._make_app()
            if metrics is not None:
                web_app.router.add_get("/metrics", metrics_handler(metrics))
            web_runner = web.AppRunner(web_app, access_log=None)
            await web_runner.setup()
            runners.insert(0, web_runner)
            await web.SockSite(web_runner, sock).start()
            print(f"watchfloor serve: {public_url} (every viewer reads one collector; "
                  "Ctrl+C stops)", flush=True)  # fmt: skip
            await _wait_for_signal()
        finally:
            for runner in runners:  # the browsers' sessions (and their consoles) first
                with contextlib.suppress(Exception):
                    await runner.cleanup()
            consumers_stop.set()
            if consuming is not None:
                await consuming  # alerting saves its state and delivers what it owes
            await engine.stop()
            sock.close()


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def run_serve(
    options: ServeOptions,
    engine: Engine,
    consumers: list[Consumer] | None = None,
    metrics: FindingsCollector | None = None,
) -> None:
    """``watchfloor serve``: blocks until stopped."""
    check_exposure(options)
    asyncio.run(serve(options, engine, consumers, metrics))


__all__ = ["ServeOptions", "ServeUsageError", "check_exposure", "run_serve"]
