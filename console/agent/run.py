"""Starting agents: one node (local sources or ``--sim NODE``), or a simulated fleet.

Security defaults are enforced here: loopback unless told otherwise, and no
non-loopback listen without a token unless ``--insecure`` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from aiohttp import web

from console.agent.fleet import fleet_apps
from console.agent.security import AgentSecurity
from console.agent.server import Collector, make_app, make_runner
from console.api import Source
from console.core.engine import Engine
from console.core.host_check import is_loopback, loopback_only
from console.core.safe_file import UnsafeFile
from console.core.safe_file import read_token as safe_read_token
from console.core.store import Store
from console.sim.simulation import Simulation

DEFAULT_LISTEN = "127.0.0.1:9477"
MIN_TOKEN_LENGTH = 16
"""Shorter tokens get a warning (guessable, throttling or not)."""


class AgentUsageError(Exception):
    """A flag combination the agent refuses, with the reason."""


@dataclass(frozen=True)
class AgentOptions:
    """What ``watchfloor agent`` was asked to do."""

    listen: str = DEFAULT_LISTEN
    token_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    insecure: bool = False
    interval: float = 1.0
    events_token_file: str | None = None
    """Token that local gateways send with ``POST /v1/events`` (none: no such endpoint)."""
    tls_allowed_sans: tuple[str, ...] = ()
    """Client certificates must name one of these (DNS, email, IP or URI SAN); empty: any
    certificate the client CA signed (exporter-toolkit's ``client_allowed_sans``)."""


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9477`` for IPv6) → (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise AgentUsageError(f"--listen wants HOST:PORT, not {listen!r}")
    return host.strip("[]"), int(port)


def credential(given: str | None, name: str) -> str | None:
    """A file option, or systemd's credential of that name when none was given.

    Under ``DynamicUser=yes`` the agent cannot read root-only files in /etc;
    ``LoadCredential=token:/etc/watchfloor/token`` hands it a copy it can read, in
    ``$CREDENTIALS_DIRECTORY`` (see docs/watchfloor-agent.service).
    """
    if given is not None:
        return given
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def read_token(path: str | None) -> str | None:
    if path is None:
        return None
    try:  # non-blocking, regular files only, capped: a FIFO here must not hang the agent
        token = safe_read_token(path)
    except UnsafeFile as exc:
        raise AgentUsageError(f"token file {exc}") from None
    if len(token) < MIN_TOKEN_LENGTH:
        print(f"watchfloor agent: warning: token in {path} is {len(token)} characters; use "
              f"{MIN_TOKEN_LENGTH} or more (openssl rand -hex 32)", file=sys.stderr)  # fmt: skip
    if "\n" in token or "\r" in token:
        print(f"watchfloor agent: warning: token file {path} has several lines; the whole "
              "text between the first and last is the token", file=sys.stderr)  # fmt: skip
    return token


def check_exposure(host: str, token: str | None, insecure: bool) -> None:
    """Refuse to serve beyond this machine without a token, unless told to."""
    if not is_loopback(host) and token is None and not insecure:
        raise AgentUsageError(
            f"refusing to listen on {host} without --token-file: anyone who can reach "
            "it could read this node (give --token-file F, or --insecure to accept that)"
        )


def server_tls(options: AgentOptions) -> ssl.SSLContext | None:
    """TLS for the server, with client-certificate verification when a CA is given."""
    if not options.tls_cert and not options.tls_key:
        if options.tls_client_ca:
            raise AgentUsageError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if options.tls_allowed_sans and not options.tls_client_ca:
        raise AgentUsageError("--tls-allowed-san needs --tls-client-ca")
    if not (options.tls_cert and options.tls_key):
        raise AgentUsageError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # as exporter-toolkit's default
    try:
        context.load_cert_chain(options.tls_cert, options.tls_key)
        if options.tls_client_ca:
            context.load_verify_locations(options.tls_client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise AgentUsageError(f"TLS files: {exc}") from None
    return context


def reload_tls(options: AgentOptions, tls: ssl.SSLContext) -> None:
    """SIGHUP: load the certificate and key again (renewed on disk); new connections get
    them, open ones keep theirs. A file that does not load leaves the old pair in use."""
    assert options.tls_cert and options.tls_key
    try:
        tls.load_cert_chain(options.tls_cert, options.tls_key)
    except (OSError, ssl.SSLError) as exc:
        print(f"watchfloor agent: TLS reload failed, keeping the old certificate: {exc}",
              file=sys.stderr, flush=True)  # fmt: skip
        return
    print("watchfloor agent: TLS certificate reloaded", file=sys.stderr, flush=True)


async def _serve(
    apps: list[tuple[str, web.Application]],
    host: str,
    port: int,
    tls: ssl.SSLContext | None,
    reload: Callable[[], None] | None = None,
) -> None:
    """Serve each app on its own port (``port`` 0: a free one each), then wait for a signal."""
    runners = []
    scheme = "https" if tls else "http"
    try:
        for index, (node, app) in enumerate(apps):
            runner = make_runner(app)
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(runner, host, port + index if port else 0, ssl_context=tls)
            await site.start()
            bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
            print(f"{node} {scheme}://{_url_host(host)}:{bound[1]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if reload is not None:
            loop.add_signal_handler(signal.SIGHUP, reload)
        await stop.wait()
    finally:
        for runner in runners:
            await runner.cleanup()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _checked(options: AgentOptions) -> tuple[str, int, str | None, ssl.SSLContext | None]:
    host, port = parse_listen(options.listen)
    token = read_token(options.token_file)
    check_exposure(host, token, options.insecure)
    return host, port, token, server_tls(options)


def posture(options: AgentOptions, host: str, token: str | None, events: bool) -> dict[str, object]:
    """How this agent is exposed, for the security pane."""
    return {
        "listen": options.listen,
        "loopback": is_loopback(host),
        "tls": bool(options.tls_cert),
        "client_certs": bool(options.tls_client_ca),
        "token": token is not None,
        "insecure": options.insecure,
        "events": events,
        "read_only": True,  # no endpoint acts on the node
    }


def run_agent(options: AgentOptions, sources: list[Source], node: str | None = None) -> None:
    """Serve one node until SIGINT/SIGTERM."""
    host, port, token, tls = _checked(options)
    events_token = read_token(options.events_token_file)
    if events_token is not None and events_token == token:
        raise AgentUsageError("the events token must differ from the read token")
    name = node or socket.gethostname().split(".")[0]
    # The agent keeps no history: the console does. One point per metric is enough.
    engine = Engine(Store(history=1), sources)
    security = AgentSecurity(posture(options, host, token, events_token is not None))
    collector = Collector(engine, name, max_age=options.interval / 2, security=security)
    # Bound to loopback, only loopback names may be the Host: a web page that rebinds
    # its own name to 127.0.0.1 cannot read the agent (Glances CVE-2026-32632).
    hosts = loopback_only(host)
    app = make_app(collector, token, security, events_token, allowed_hosts=hosts,
                   allowed_sans=frozenset(options.tls_allowed_sans) or None)  # fmt: skip
    reload = partial(reload_tls, options, tls) if tls is not None else None
    try:
        asyncio.run(_serve([(name, app)], host, port, tls, reload))
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(engine.stop())


def run_fleet(options: AgentOptions, simulation: Simulation) -> None:
    """Serve every simulated compute node on its own port until SIGINT/SIGTERM."""
    host, port, token, tls = _checked(options)
    # One replayed tick per interval, whenever in it each node is polled.
    apps = fleet_apps(simulation, token, interval=options.interval)
    asyncio.run(_serve(apps, host, port, tls))


__all__ = [
    "AgentOptions",
    "AgentUsageError",
    "check_exposure",
    "is_loopback",
    "parse_listen",
    "posture",
    "run_agent",
    "run_fleet",
]
