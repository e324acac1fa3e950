"""Which names a listening socket answers to in ``Host`` (DNS rebinding).

A page on any site the operator visits can point a name it owns at 127.0.0.1 and
read whatever a loopback listener answers. Refusing every ``Host`` that is not a
loopback name (or the address listened on) closes that; a listener on a real
interface is reached by names we cannot know, so it takes any.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "localhost.localdomain"})


def host_name(value: str) -> str:
    """``Host``/``Origin`` host part, lower case, without port or IPv6 brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (the names only this machine reaches)."""
    if host.strip("[]").lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def loopback_only(listen_host: str) -> frozenset[str] | None:
    """The names a listener on ``listen_host`` answers to; ``None``: any (not loopback)."""
    if not is_loopback(listen_host):
        return None
    return LOOPBACK_NAMES | {host_name(f"[{listen_host.strip('[]')}]")}


def host_middleware(allowed: frozenset[str] | None, what: str) -> Middleware:
    """Refuse (421) a request whose ``Host`` is not in ``allowed`` (``None``: any)."""

    @web.middleware
    async def host_checked(request: web.Request, handler: Handler) -> web.StreamResponse:
        if allowed is not None and host_name(request.headers.get("Host", "")) not in allowed:
            return web.Response(status=421, text=f"{what} does not answer to that Host\n")
        return await handler(request)

    return host_checked
