"""The collector's relay: its store for the consoles it serves, as what changed.

Bound to loopback on a free port and closed to anyone without the per-run token
(compared in constant time), so only the viewers this collector serves read it.
Each viewer names the cycle it has (``?epoch=..&since=..``) and gets what changed
after it (``console.collector.delta``); one encoding per (cycle, since) serves
every viewer at the same place.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from console.collector.delta import encode
from console.collector.journal import Journal
from console.core.engine import Engine

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Relay:
    """Encodes the engine's store on demand: whole, or the changes after a cycle."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.journal = Journal(began_empty=not engine.store.entities)
        """The numbered changes of the last cycles."""
        engine.cycle_hooks.append(self.journal)
        self.requests = 0
        """Documents served (each viewer asks once per interval)."""
        self._cache: tuple[tuple[object, ...], bytes] | None = None

    def document(self, history: bool, epoch: str | None = None, since: int | None = None) -> bytes:
        """The encoded store now: what changed after cycle ``since`` of run ``epoch``,
        or all of it (with the timed history when ``history``) when that is unknown."""
        changes = self.journal.since(epoch, since)
        seq = self.journal.seq
        key = (seq, None if changes is None else since, history and changes is None)
        if self._cache is None or self._cache[0] != key:
            statuses = self.engine.statuses()
            body = encode(self.engine.store, statuses, self.journal.epoch, seq, changes, history)
            self._cache = (key, body)
        return self._cache[1]


def make_relay_app(relay: Relay, token: str) -> web.Application:
    """``GET /v1/fleet`` (bearer token) and ``GET /healthz``."""
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def authenticated(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/healthz":
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, expected):
                return web.Response(status=401)
        return await handler(request)

    async def fleet(request: web.Request) -> web.Response:
        relay.requests += 1
        query = request.query
        since = query.get("since", "")
        body = relay.document(
            history=query.get("history") == "1",
            epoch=query.get("epoch"),
            since=int(since) if since.isdigit() and len(since) < 19 else None,
        )
        return web.Response(body=body, content_type="application/x-ndjson")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application(middlewares=[authenticated], client_max_size=1024)
    app.router.add_get("/v1/fleet", fleet)
    app.router.add_get("/healthz", healthz)
    return app
