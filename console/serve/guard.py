"""What ``watchfloor serve`` lets in: the Host a request names, the Origin of a
websocket, how many sessions run, how big a window is, and what a page may do.

textual-serve has no checks of its own. Without these, a page on any site the
operator visits (or DNS rebinding, or another local user) could open the
websocket, read the fleet and send keys; fifty websockets made fifty console
processes; one 3000×3000 window cost 182 MB. The console still has no login:
beyond this machine an authenticating proxy stands in front (docs/security.md).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web

from console.core.host_check import LOOPBACK_NAMES, host_name

log = logging.getLogger(__name__)

MAX_SESSIONS = 8
"""Browser sessions (each one a console process, ~60 MB) at once; more get 503."""
MAX_WIDTH, MAX_HEIGHT = 400, 150
"""Largest window (columns × rows) a browser may ask for; larger is cut to this."""
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
LOG_EVERY = 60.0
"""One log line per kind of refusal per this many seconds (a flood writes no flood)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def allowed_hosts(listen_host: str, public_url: str | None) -> frozenset[str]:
    """Loopback names, the address listened on (unless a wildcard), and the public URL's host."""
    names = set(LOOPBACK_NAMES)
    if listen_host not in ("0.0.0.0", "::", ""):
        names.add(host_name(f"[{listen_host}]" if ":" in listen_host else listen_host))
    else:  # every address: the machine's own name too (any other needs --public-url)
        names.add(socket.gethostname().lower())
    if public_url:
        public = urlsplit(public_url).hostname
        if public:
            names.add(public.lower())
    return frozenset(names)


def clamp_size(width: object, height: object) -> tuple[int, int]:
    """A window size a browser may have: whole numbers within 1..MAX."""

    def whole(value: object, default: int, top: int) -> int:
        try:
            number = int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            number = default
        return min(max(number, 1), top)

    return whole(width, 80, MAX_WIDTH), whole(height, 24, MAX_HEIGHT)


class Guard:
    """The middleware and the session count for one ``serve``."""

    def __init__(
        self, hosts: Iterable[str], max_sessions: int = MAX_SESSIONS, public_url: str | None = None
    ) -> None:
        self.hosts = frozenset(hosts)
        parts = urlsplit(public_url or "")
        self.origins = frozenset(
            {f"{parts.scheme}://{parts.netloc}".lower()} if parts.scheme and parts.netloc else ()
        )
        """The public URL's origin (behind a proxy, the page comes from there)."""
        self.max_sessions = max_sessions
        self.sessions = 0
        """Websocket sessions open now."""
        self.refused: dict[str, int] = {}
        """Refusals by kind (tests and the log read it)."""
        self._logged: dict[str, float] = {}

    def _same_server(self, origin: str, host: str) -> bool:
        """The page came from this server: an allowed name (``localhost`` and
        ``127.0.0.1`` alike) on this very port."""
        parts = urlsplit(origin)
        try:
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return False
        ours = host.rsplit(":", 1)[1] if host.count(":") == 1 or "]:" in host else None
        return (
            parts.scheme in ("http", "https")
            and (parts.hostname or "") in self.hosts
            and str(port) == (ours or str({"http": 80, "https": 443}[parts.scheme]))
        )

    def _refuse(self, kind: str, status: int, text: str) -> web.Response:
        self.refused[kind] = self.refused.get(kind, 0) + 1
        now = time.monotonic()
        if now - self._logged.get(kind, -LOG_EVERY) >= LOG_EVERY:
            self._logged[kind] = now
            log.warning("serve refused a request (%s); %d so far", kind, self.refused[kind])
        return web.Response(status=status, text=text + "\n", headers=SECURITY_HEADERS)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if host_name(request.headers.get("Host", "")) not in self.hosts:
            return self._refuse("host", 421, "this server does not answer to that Host")
        if request.path != "/ws":
            return await handler(request)
        # Same origin only: the page must come from this very server (scheme, host and
        # port), or from the public URL a proxy serves it at. Another port on the same
        # host is another origin (another local user's page).
        origin = request.headers.get("Origin", "").rstrip("/").lower()
        if origin not in self.origins and not self._same_server(origin, request.host):
            return self._refuse("origin", 403, "websocket from a foreign page refused")
        if self.sessions >= self.max_sessions:
            return self._refuse("sessions", 503, f"{self.max_sessions} sessions already open")
        width, height = clamp_size(request.query.get("width"), request.query.get("height"))
        url = request.rel_url.update_query(width=str(width), height=str(height))
        self.sessions += 1
        try:
            return await handler(request.clone(rel_url=url))
        finally:
            self.sessions -= 1


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: no framing (clickjacking), no MIME sniffing, no referrer."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
