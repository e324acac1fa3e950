"""``watchfloor agent``: the node's sources behind a small, read-only HTTP server.

- ``GET /v1/snapshot``: JSON (see ``wire.py``); ``GET /metrics``: Prometheus text
  exposition of the same readings; ``GET /healthz``: ``ok``.
- ``POST /v1/events`` (only with an events token, which is not the read token):
  guard events from local inference gateways, checked, bounded and rate-limited
  (``security.py``); they come back as entities in the snapshot.
- One collection serves every concurrent reader: a request collects only when
  the last collection is older than ``max_age``; requests arriving meanwhile
  wait for that same collection.
- Bearer token compared in constant time; a wrong or missing token gets 401 and
  nothing else, and is counted (by address) as an event. Requests, headers and
  concurrency are bounded. No endpoint changes anything on the node.
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
from console.agent.security import MAX_EVENTS_BODY, AgentSecurity, EventError, parse_guard_events
from console.agent.wire import encode, store_samples
from console.api import SourceStatus
from console.bodies import BodyTooLarge, read_body
from console.engine import Engine
from console.model import Entity

MAX_CONCURRENT = 32
"""Requests handled at once; more get 503 (a scrape storm cannot pile up)."""
MAX_REQUEST_BYTES = 1024
"""Largest request body accepted on the read endpoints (they are GETs)."""
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

    def __init__(
        self,
        engine: Engine,
        node: str,
        max_age: float = 1.0,
        security: AgentSecurity | None = None,
    ) -> None:
        self.engine = engine
        self.node = node
        """The name this agent reports as (refs are ``gpu/<node>/…``)."""
        self.max_age = max_age
        """A collection younger than this is served as is."""
        self.collections = 0
        """How many collections ran (tests check sharing with it)."""
        self.security = security
        """The agent's posture and security events, reported with the node."""
        self._latest: Collected | None = None
        self._lock = asyncio.Lock()

    async def latest(self) -> Collected:
        """The newest collection, collecting first if it is too old."""
        async with self._lock:  # later readers wait here for the same collection
            latest = self._latest
            if latest is None or time.monotonic() - latest.at >= self.max_age:
                await self.engine.collect(1, due_within=self.max_age)
                self.collections += 1
                store = self.engine.store
                latest = self._latest = Collected(
                    self.node, store.time, self._entities(),
                    store_samples(store), self.engine.statuses(),
                )  # fmt: skip
            return latest

    def _entities(self) -> list[Entity]:
        entities = dict(self.engine.store.entities)
        if self.security is not None:
            for extra in self.security.entities(self.node):
                known = entities.get(extra.ref)
                if known is not None:  # the node: add the agent's posture to what it has
                    extra = Entity(known.ref, known.name, known.parent,
                                   {**known.attrs, **extra.attrs})  # fmt: skip
                entities[extra.ref] = extra
        return list(entities.values())


class Snapshots(Protocol):
    """What the endpoints read: a real node's Collector, or a simulated fleet node."""

    async def latest(self) -> Collected:
        """The newest collection, encoded."""


def make_app(
    collector: Snapshots,
    token: str | None,
    security: AgentSecurity | None = None,
    events_token: str | None = None,
) -> web.Application:
    """The agent's aiohttp application (``/v1/events`` only with ``events_token``)."""
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
    events_expected = f"Bearer {events_token}".encode() if events_token else None

    @web.middleware
    async def authenticated(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Each endpoint has its own token: a gateway that may post events cannot read.
        wanted = events_expected if request.path == "/v1/events" else expected
        if wanted is not None and request.path != "/healthz":
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, wanted):
                if security is not None:
                    security.auth_failed(request.remote, request.path)
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

    async def events(request: web.Request) -> web.Response:
        if security is None or events_expected is None:
            raise web.HTTPNotFound()
        try:  # the whole body, however many reads it takes, and never past the cap
            body = await read_body(request.content, MAX_EVENTS_BODY, request.content_length)
        except BodyTooLarge:
            return web.Response(status=413, text=f"body over {MAX_EVENTS_BODY} bytes\n")
        except (ValueError, ConnectionError) as exc:
            return web.Response(status=400, text=f"unreadable body: {exc}\n")
        try:
            document = json.loads(body)
            accepted = parse_guard_events(document, time.time())
        except (ValueError, RecursionError) as exc:
            reason = exc if isinstance(exc, EventError) else "not valid JSON"
            return web.Response(status=400, text=f"{reason}\n")
        if not security.add_guard_events(accepted, request.remote):
            return web.Response(status=429, text="too many events\n", headers={"Retry-After": "1"})
        return web.json_response({"accepted": len(accepted)}, status=202)

    app = web.Application(middlewares=[bounded, authenticated], client_max_size=MAX_REQUEST_BYTES)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/v1/snapshot", snapshot)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/v1/events", events)
    return app


def make_runner(app: web.Application) -> web.AppRunner:
    """A runner with bounded request lines and headers, and no access log."""
    return web.AppRunner(
        app, access_log=None, max_line_size=MAX_HEADER_BYTES, max_field_size=MAX_HEADER_BYTES
    )
