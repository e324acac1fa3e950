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
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from console.agent.exposition import render_metrics
from console.agent.security import MAX_EVENTS_BODY, AgentSecurity, EventError, parse_guard_events
from console.agent.stream_wire import (
    STREAM_PATH,
    WIRE_HEADER,
    FrameParts,
    StreamEncoder,
    frame_parts,
)
from console.agent.wire import WIRE_VERSION, encode, store_samples
from console.api import SourceStatus
from console.core.bodies import BodyTooLarge, read_body
from console.core.engine import Engine
from console.core.host_check import host_name
from console.core.model import Entity

MAX_CONCURRENT = 32
"""Requests handled at once; more get 503 (a scrape storm cannot pile up)."""
MAX_REQUEST_BYTES = 1024
"""Largest request body accepted on the read endpoints (they are GETs)."""
MAX_HEADER_BYTES = 8190
"""Longest request line and header field."""
MAX_CONNECTIONS = 512
"""Connections open at once; more are closed on arrival. Well below the usual 1,024-fd
limit, so a slowloris flood never leaves the agent without a descriptor to answer with."""
IDLE_TIMEOUT = 10.0
"""Seconds a connection may take to send a request head, or sit idle between requests
(aiohttp's default is 3,630: 1,100 trickling connections stopped the agent)."""
BODY_TIMEOUT = 10.0
"""Seconds an events body may take to arrive."""
AUTH_FAILURES = 10
"""Failed token attempts one address may make per :data:`AUTH_WINDOW`; then 429."""
AUTH_WINDOW = 60.0
LOG_EVERY = 60.0
"""One log line per kind of refusal per this many seconds."""
MAX_STREAMS = 4
"""Streams (``/v2/stream``) open at once; more get 503 (a console needs one)."""
STREAM_INTERVALS = (0.2, 60.0)
"""Shortest and longest cycle a stream may ask for (``?interval=``)."""
STREAM_WRITE_TIMEOUT = 10.0
"""Seconds a frame may wait for a reader that stopped reading; then the stream ends."""
SERVER_HEADER = "watchfloor-agent"
"""No versions in ``Server``: nothing to match against a vulnerability list."""

log = logging.getLogger(__name__)


class Refusals:
    """Counts refusals by kind and logs each kind at most once a minute (a flood of
    refusals must not become a flood of log lines)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._logged: dict[str, float] = {}

    def note(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        now = time.monotonic()
        if now - self._logged.get(kind, -LOG_EVERY) >= LOG_EVERY:
            self._logged[kind] = now
            log.warning("agent refused %s (%d so far)", kind, self.counts[kind])


REFUSALS = web.AppKey("refusals", Refusals)
"""Where an app keeps its refusal counts (the runner's connection cap adds to them)."""


class FailureThrottle:
    """Failed token attempts per address in a sliding window (52,738 guesses in 30 s
    went through before)."""

    def __init__(self, limit: int = AUTH_FAILURES, window: float = AUTH_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, list[float]] = {}

    def blocked(self, remote: str) -> bool:
        recent = self._recent(remote)
        return len(recent) >= self.limit

    def failed(self, remote: str) -> None:
        self._recent(remote).append(time.monotonic())
        if len(self._failures) > 10_000:  # bounded: forget the quietest addresses
            for key in list(self._failures)[:5_000]:
                del self._failures[key]

    def _recent(self, remote: str) -> list[float]:
        cutoff = time.monotonic() - self.window
        recent = [t for t in self._failures.get(remote, ()) if t > cutoff]
        self._failures[remote] = recent
        return recent


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
        self._stream: FrameParts | None = None

    @property
    def snapshot(self) -> bytes:
        """The ``/v1/snapshot`` body."""
        if self._snapshot is None:
            document = encode(*self._parts)
            self._snapshot = json.dumps(document, separators=(",", ":")).encode()
        return self._snapshot

    @property
    def stream(self) -> FrameParts:
        """The pieces of a ``/v2/stream`` frame, shared by every stream."""
        if self._stream is None:
            self._stream = frame_parts(*self._parts)
        return self._stream

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


class Encoded(Protocol):
    """One collection as the endpoints serve it (:class:`Collected`, or a fleet node's
    replayed cycle)."""

    @property
    def snapshot(self) -> bytes: ...

    @property
    def stream(self) -> FrameParts: ...

    @property
    def metrics(self) -> bytes: ...


class Snapshots(Protocol):
    """What the endpoints read: a real node's Collector, or a simulated fleet node."""

    async def latest(self) -> Encoded:
        """The newest collection, encoded."""


def make_app(
    collector: Snapshots,
    token: str | None,
    security: AgentSecurity | None = None,
    events_token: str | None = None,
    allowed_hosts: frozenset[str] | None = None,
    allowed_sans: frozenset[str] | None = None,
) -> web.Application:
    """The agent's aiohttp application (``/v1/events`` only with ``events_token``).

    ``allowed_hosts``: the only names a request's ``Host`` may give (an agent bound
    to loopback: DNS rebinding cannot reach it from a web page); ``None`` allows any.
    """
    in_flight = 0
    streams: set[asyncio.Task[Any]] = set()
    refusals = Refusals()
    throttle = FailureThrottle()

    @web.middleware
    async def host_checked(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = host_name(request.headers.get("Host", ""))
        if allowed_hosts is not None and host not in allowed_hosts:
            refusals.note("a foreign Host (DNS rebinding?)")
            return web.Response(status=421, text="this agent does not answer to that Host\n")
        if allowed_sans is not None:
            transport = request.transport
            peer = transport.get_extra_info("peercert") if transport is not None else None
            names = {value for _, value in (peer or {}).get("subjectAltName", ())}
            if not names & allowed_sans:
                refusals.note("a client certificate not in the allowed names")
                return web.Response(status=403, text="client certificate not allowed\n")
        return await handler(request)

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
            remote = request.remote or "?"
            if throttle.blocked(remote):  # not even compared: guessing costs a minute
                refusals.note("token guesses past the limit")
                return web.Response(status=429, headers={"Retry-After": str(int(AUTH_WINDOW))})
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, wanted):
                throttle.failed(remote)
                if security is not None:
                    security.auth_failed(request.remote, request.path)
                # no detail for a guesser, only the scheme (RFC 6750)
                return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def snapshot(request: web.Request) -> web.Response:
        latest = await collector.latest()
        return web.Response(body=latest.snapshot, content_type="application/json")

    async def stream(request: web.Request) -> web.StreamResponse:
        spoken = request.headers.get(WIRE_HEADER, "none")[:16]
        if spoken != str(WIRE_VERSION):
            text = (f"wire version mismatch: this agent speaks {WIRE_VERSION}, the console "
                    f"{spoken} (run the same watchfloor release on both)\n")  # fmt: skip
            return web.Response(status=400, text=text)
        try:
            asked = float(request.query.get("interval", "1"))
        except ValueError:
            asked = float("nan")
        low, high = STREAM_INTERVALS
        if not low <= asked <= high:  # also NaN
            return web.Response(status=400, text=f"interval must be {low:g} to {high:g} s\n")
        if len(streams) >= MAX_STREAMS:
            return web.Response(status=503, text="too many streams\n")
        task = asyncio.current_task()
        assert task is not None
        streams.add(task)  # ended at shutdown: a stream never holds the agent open
        try:
            response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            try:
                await response.prepare(request)
            except ConnectionError:
                return response  # gone before the stream began
            await _push(collector, request, response, asked)
            return response
        finally:
            streams.discard(task)

    async def end_streams(app: web.Application) -> None:
        for task in list(streams):
            task.cancel()

    async def metrics(request: web.Request) -> web.Response:
        latest = await collector.latest()
        return web.Response(
            body=latest.metrics, headers={"Content-Type": "text/plain; version=0.0.4"}
        )

    async def events(request: web.Request) -> web.Response:
        if security is None or events_expected is None:
            raise web.HTTPNotFound()
        try:  # the whole body, however many reads it takes, never past the cap or the time
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await read_body(request.content, MAX_EVENTS_BODY, request.content_length)
        except TimeoutError:
            return web.Response(status=408, text=f"body took over {BODY_TIMEOUT:g}s\n")
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

    app = web.Application(
        middlewares=[host_checked, bounded, authenticated], client_max_size=MAX_REQUEST_BYTES
    )
    app.on_response_prepare.append(_server_header)
    app.on_shutdown.append(end_streams)
    app[REFUSALS] = refusals
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/v1/snapshot", snapshot)
    app.router.add_get(STREAM_PATH, stream)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/v1/events", events)
    return app


async def _push(
    collector: Snapshots, request: web.Request, response: web.StreamResponse, interval: float
) -> None:
    """One frame per collection, every ``interval`` seconds, until the reader goes."""
    encoder = StreamEncoder()
    sent: Encoded | None = None
    due = time.monotonic()
    while request.transport is not None and not request.transport.is_closing():
        latest = await collector.latest()
        if latest is not sent:  # the same collection twice would be a duplicate point
            try:
                async with asyncio.timeout(STREAM_WRITE_TIMEOUT):
                    await response.write(encoder.frame(latest.stream))
            except (TimeoutError, ConnectionError):
                return  # the console stopped reading, or went: its stream ends here
            sent = latest
            # A fixed rate, not "interval after this one": collecting takes time too.
            due = max(due + interval, time.monotonic())
        else:
            due = time.monotonic() + interval / 10  # not renewed yet: look again soon
        await asyncio.sleep(max(due - time.monotonic(), 0.0))


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_HEADER


class _Runner(web.AppRunner):
    """An AppRunner whose server holds at most :data:`MAX_CONNECTIONS` connections."""

    def __init__(self, app: web.Application, refusals: Refusals, **kwargs: object) -> None:
        super().__init__(app, **kwargs)  # type: ignore[arg-type]
        self.refusals = refusals

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        admit = server.connection_made
        refusals = self.refusals

        def connection_made(handler: Any, transport: asyncio.Transport) -> None:
            # Closed connections stay listed until their task ends: count the open ones.
            live = [h for h in server.connections if h.transport is not None]
            if len(live) >= MAX_CONNECTIONS:
                refusals.note(f"connections past {MAX_CONNECTIONS}")
                # The oldest connection not in a request goes (a trickling slowloris
                # never gets that far), so a real request still gets in; with none
                # idle, the newcomer is refused.
                idle = next(
                    (h for h in live if not getattr(h, "_request_in_progress", False)), None
                )
                if idle is None:
                    transport.abort()  # its descriptor back at once, no lingering
                    return
                idle.force_close()
            admit(handler, transport)

        server.connection_made = connection_made  # type: ignore[method-assign]
        return server


def make_runner(app: web.Application) -> web.AppRunner:
    """A runner with bounded request lines and headers, a request-head and idle timeout,
    a connection cap, and no access log."""
    refusals = app.get(REFUSALS) or Refusals()
    return _Runner(
        app,
        refusals,
        access_log=None,
        max_line_size=MAX_HEADER_BYTES,
        max_field_size=MAX_HEADER_BYTES,
        keepalive_timeout=IDLE_TIMEOUT,
    )
