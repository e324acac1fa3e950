"""The collector's relay: its store as one document, for the consoles it serves.

Bound to loopback on a free port and closed to anyone without the per-run token
(compared in constant time), so only the viewers that ``serve`` starts read it.
One encoding per store version serves every viewer.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from console.engine import Engine
from console.serve.wire import encode_fleet

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Relay:
    """Encodes the engine's store on demand, once per store version."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.requests = 0
        """Documents served (each viewer asks once per interval)."""
        self._cache: dict[bool, tuple[int, bytes]] = {}

    def document(self, history: bool) -> bytes:
        """The encoded store now (with the timed history when asked)."""
        store = self.engine.store
        cached = self._cache.get(history)
        if cached is None or cached[0] != store.version:
            body = json.dumps(encode_fleet(store, self.engine.statuses(), history),
                              separators=(",", ":")).encode()  # fmt: skip
            cached = self._cache[history] = (store.version, body)
        return cached[1]


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
        body = relay.document(history=request.query.get("history") == "1")
        return web.Response(body=body, content_type="application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application(middlewares=[authenticated], client_max_size=1024)
    app.router.add_get("/v1/fleet", fleet)
    app.router.add_get("/healthz", healthz)
    return app
