"""The collector's relay: its store for the consoles it serves, as what changed.

Bound to loopback on a free port and closed to anyone without the per-run token
(compared in constant time), so only the viewers this collector serves read it.
Each viewer names the cycle it has (``?epoch=..&since=..``) and gets what changed
after it (``console.collector.delta``); one encoding per (cycle, since) serves
every viewer at the same place.
"""

from __future__ import annotations

import asyncio
import contextlib
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
        self.sent_seq = -1
        """The newest cycle a reader has been sent whole (-1: none yet)."""
        self._sent = asyncio.Event()

    def note_sent(self, seq: int) -> None:
        """A document of cycle ``seq`` went out whole (into the kernel's buffers)."""
        if seq > self.sent_seq:
            self.sent_seq = seq
            self._sent.set()

    async def sent(self, limit: float) -> None:
        """Wait until a reader has been sent the newest cycle whole, ``limit`` seconds at
        most (a reader that never asks delays what waits on this by that much, once)."""
        seq = self.journal.seq
        # Encoded now, while the request of a reader that read before this cycle (a UI
        # starting with its collector) may still be on its way (it asks once an interval).
        self.document(history=True, epoch=self.journal.epoch, since=0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                while self.sent_seq < seq:
                    self._sent.clear()
                    await self._sent.wait()

    def document(self, history: bool, epoch: str | None = None, since: int | None = None) -> bytes:
        """The encoded store now: what changed after cycle ``since`` of run ``epoch``,
        or all of it (with the timed history when ``history``) when that is unknown."""
        changes = self.journal.since(epoch, since)
        seq = self.journal.seq
        analysed = self.engine.analysed
        key = (seq, None if changes is None else since, history and changes is None, analysed)
        if self._cache is None or self._cache[0] != key:
            statuses = self.engine.statuses()
            body = encode(self.engine.store, statuses, self.journal.epoch, seq, changes, history,
                          analysed)  # fmt: skip
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

    async def fleet(request: web.Request) -> web.StreamResponse:
        relay.requests += 1
        query = request.query
        since = query.get("since", "")
        seq = relay.journal.seq
        body = relay.document(
            history=query.get("history") == "1",
            epoch=query.get("epoch"),
            since=int(since) if since.isdigit() and len(since) < 19 else None,
        )
        # Streamed, to know when it is gone: a large fleet's first document is tens of MB,
        # and analysis that waits for it (Relay.sent) would stall its sending otherwise.
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        response.content_length = len(body)
        await response.prepare(request)
        try:
            await response.write(body)
            await response.write_eof()
        except ConnectionError:  # the reader left mid-document (a viewer closed): not sent
            return response
        relay.note_sent(seq)
        return response

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application(middlewares=[authenticated], client_max_size=1024)
    app.router.add_get("/v1/fleet", fleet)
    app.router.add_get("/healthz", healthz)
    return app
