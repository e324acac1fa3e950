"""``watchfloor agent``: the node's sources behind a small, read-only HTTP server.

- ``GET /v1/snapshot``: JSON (see ``wire.py``); ``GET /metrics``: Prometheus text
  exposition of the same readings; ``GET /healthz``: ``ok``.
- One collection serves every concurrent reader: a request collects only when
  the last collection is older than ``max_age``; requests arriving meanwhile
  wait for that same collection.
- Bearer token compared in constant time; a wrong or missing token gets 401 and
  nothing else. Requests, headers and concurrency are bounded. No endpoint
  changes anything.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from console.agent.exposition import render_metrics
from console.agent.wire import encode, store_samples
from console.api import SourceStatus
from console.engine import Engine
from console.model import Entity

MAX_CONCURRENT = 32
"""Requests handled at once; more get 503 (a scrape storm cannot pile up)."""
MAX_REQUEST_BYTES = 1024
"""Largest request body accepted (every endpoint is a GET)."""
MAX_HEADER_BYTES = 8190
"""Longest request line and header field."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Collected:
    """One collection; each endpoint's encoding is made on first use and kept."""

    def __init__(
        self,
        node: str,
        time_: float | None,
        entities: list[Entity],
        samples: list[tuple[str, str, float | None]],
        statuses: list[SourceStatus],
    ) -> None:
        self.at = time.monotonic()
        """When it was collected (monotonic clock)."""
        self._parts = (node, time_, entities, samples, statuses)
        self._snapshot: bytes | None = None
        self._metrics: bytes | None = None

    @property
    def snapshot(self) -> bytes:
        """The ``/v1/snapshot`` body."""
        if self._snapshot is None:
            document = encode(*self._parts)
            self._snapshot = json.dumps(document, separators=(",", ":")).encode()
        return self._snapshot

    @property
    def metrics(self) -> bytes:
        """The ``/metrics`` body."""
        if self._metrics is None:
            node, _, entities, samples, statuses = self._parts
            self._metrics = render_metrics(node, entities, samples, statuses)
        return self._metrics


class Collector:
    """Runs the node's sources on demand; one collection serves all readers."""

    def __init__(self, engine: Engine, node: str, max_age: float = 1.0) -> None:
        self.engine = engine
        self.node = node
        """The name this agent reports as (refs are ``gpu/<node>/…``)."""
        self.max_age = max_age
        """A collection younger than this is served as is."""
        self.collections = 0
        """How many collections ran (tests check sharing with it)."""
        self._latest: Collected | None = None
        self._lock = asyncio.Lock()

    async def latest(self) -> Collected:
        """The newest collection, collecting first if it is too old."""
        async with self._lock:  # later readers wait here for the same collection
            latest = self._latest
            if latest is None or time.monotonic() - latest.at >= self.max_age:
                await self.engine.collect(1)
                self.collections += 1
                store = self.engine.store
                latest = self._latest = Collected(
                    self.node, store.time, list(store.entities.values()),
                    store_samples(store), self.engine.statuses(),
                )  # fmt: skip
            return latest


class Snapshots(Protocol):
    """What the endpoints read: a real node's Collector, or a simulated fleet node."""

    async def latest(self) -> Collected:
        """The newest collection, encoded."""


def make_app(collector: Snapshots, token: str | None) -> web.Application:
    """The agent's aiohttp application."""
    in_flight = 0

    @web.middleware
    async def bounded(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal in_flight
        if in_flight >= MAX_CONCURRENT:
            return web.Response(status=503, text="busy\n")
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    expected = f"Bearer {token}".encode() if token else None

    @web.middleware
    async def authenticated(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is not None and request.path != "/healthz":
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, expected):
                return web.Response(status=401)  # no detail for a guesser
        return await handler(request)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def snapshot(request: web.Request) -> web.Response:
        latest = await collector.latest()
        return web.Response(body=latest.snapshot, content_type="application/json")

    async def metrics(request: web.Request) -> web.Response:
        latest = await collector.latest()
        return web.Response(
            body=latest.metrics, headers={"Content-Type": "text/plain; version=0.0.4"}
        )

    app = web.Application(middlewares=[bounded, authenticated], client_max_size=MAX_REQUEST_BYTES)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/v1/snapshot", snapshot)
    app.router.add_get("/metrics", metrics)
    return app


def make_runner(app: web.Application) -> web.AppRunner:
    """A runner with bounded request lines and headers, and no access log."""
    return web.AppRunner(
        app, access_log=None, max_line_size=MAX_HEADER_BYTES, max_field_size=MAX_HEADER_BYTES
    )
