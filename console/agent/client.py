"""The ``agent`` source: polls one node agent's ``/v1/snapshot`` over HTTP(S).

Every agent source of a console shares one ``aiohttp.ClientSession`` (connection
reuse). Each failure says what happened in words — refused, timeout, 401, TLS,
bad JSON, version mismatch, too large — and the engine shows the node stale
(with the age of its last data) or failed, and keeps retrying with backoff.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from pathlib import Path
from typing import Any

import aiohttp
import hostlist
from yarl import URL

from console.agent.wire import MAX_SERIES, WireError, decode
from console.api import Batch, Source, SourceContext, SourceError, plain
from console.core.bodies import BodyTooLarge, read_body
from console.core.intake import IntakeError, check_time
from console.core.safe_file import read_token as safe_read_token

MAX_BODY_BYTES = 32 * 1024 * 1024
"""Largest snapshot accepted from one agent (an 8-GPU node sends ~50 KB)."""
AGENT_MAX_SERIES = MAX_SERIES
"""Series one agent may own in the console's store."""


class SharedSession:
    """One ClientSession for every agent source, opened in the running loop."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.users = 0

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # One kept-alive connection per agent: reconnecting costs far more than a poll.
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=2, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def release(self) -> None:
        self.users -= 1
        if self.users <= 0 and self._session is not None:
            await self._session.close()
            self._session = None


SESSION = SharedSession()
"""The console's one HTTP client session."""


def ssl_context(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """Client TLS settings: verify the agent with ``ca``, present ``cert``/``key``."""
    if not (ca or cert):
        return None
    context = ssl.create_default_context(cafile=ca)
    if cert:
        context.load_cert_chain(cert, key)
    return context


class AgentSource(Source):
    """One agent, one URL."""

    type = "agent"
    max_series = AGENT_MAX_SERIES
    checks_its_batches = True
    """Its decoders (``wire.decode``, ``StreamDecoder``) check every field of what the
    agent sent, as ``check_batch`` would: the engine does not check it all again (a
    thousand polls a second, where the second look cost a tenth of the console)."""

    def __init__(
        self,
        url: str,
        interval: float,
        timeout: float = 3.0,
        token: str | None = None,
        tls: ssl.SSLContext | None = None,
        session: SharedSession = SESSION,
    ) -> None:
        self.url = url.rstrip("/")
        """Base URL of the agent."""
        self.name = self.url.split("://", 1)[-1]
        self.interval = interval
        # The engine's own timeout is the backstop; ours comes first with a clearer word.
        self.timeout = timeout + 1.0
        self.request_timeout = timeout
        self.node: str | None = None
        """The node the agent said it is, once it answered."""
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Parsed once: a console polls a thousand of these every second.
        self._snapshot_url = URL(f"{self.url}/v1/snapshot")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._tls = tls
        self._session = session
        session.users += 1

    async def poll(self) -> Batch:
        body = await self._fetch()
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(f"bad JSON from agent: {str(exc)[:120]}") from None
        try:
            node, batch, statuses = decode(document)
        except WireError as exc:
            raise SourceError(f"bad response: {exc}") from None
        return self._finish(node, batch, statuses)

    def _finish(self, node: str, batch: Batch, statuses: list[Any]) -> Batch:
        """The agent's batch with its node, source statuses and clock skew noted."""
        self.node = node
        batch.meta = {"agent_node": node, "agent_sources": statuses}
        if batch.time is not None:
            _measure_skew(node, batch, statuses)
        return batch

    async def _fetch(self) -> bytes:
        try:
            async with self._get(self._snapshot_url, self._timeout) as response:
                self._check_status(response)
                return await _read_limited(response)
        except SourceError:
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._failure(exc) from None

    def _get(
        self, url: URL, timeout: aiohttp.ClientTimeout, headers: dict[str, str] | None = None
    ) -> Any:
        return self._session.get().get(
            url,
            headers={**self._headers, **headers} if headers else self._headers,
            ssl=self._tls if self._tls is not None else True,
            timeout=timeout,
            allow_redirects=False,  # an agent does not redirect; one that does is lying
        )

    def _check_status(self, response: aiohttp.ClientResponse) -> None:
        if 300 <= response.status < 400:
            where = plain(response.headers.get("Location", "nowhere"), 120)
            raise SourceError(
                f"HTTP {response.status} redirect to {where}: not followed "
                "(point the url at the agent itself)"
            )
        if response.status == 401:
            raise SourceError("401 unauthorized: wrong or missing token")
        if response.status != 200:
            raise SourceError(f"HTTP {response.status} from agent")

    def _failure(self, exc: BaseException) -> SourceError:
        """What a failed request says, in words."""
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return SourceError(f"TLS: {exc.certificate_error}")
        if isinstance(exc, aiohttp.ClientSSLError):
            return SourceError(f"TLS: {exc}")
        if isinstance(exc, aiohttp.ClientConnectorError):
            return SourceError(f"refused or unreachable: {exc.os_error}")
        if isinstance(exc, TimeoutError):
            return SourceError(f"timeout after {self.request_timeout:g}s")
        if isinstance(exc, aiohttp.ClientPayloadError):
            return SourceError("truncated response")
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return SourceError(self._disconnected())
        if isinstance(exc, aiohttp.ClientResponseError):
            if self.url.startswith("http://"):
                return SourceError(self._disconnected())
            return SourceError(f"bad HTTP response: {exc.message}")
        return SourceError(f"{type(exc).__name__}: {exc}")

    def _disconnected(self) -> str:
        """Why an agent hangs up before answering, in the two cases seen in the field."""
        if self.url.startswith("http://"):
            return ("the agent closed the connection without an HTTP answer: does it "
                    "speak TLS? (use https:// and tls_ca)")  # fmt: skip
        return ("the agent closed the TLS connection: does it want a client certificate? "
                "(tls_cert and tls_key)")  # fmt: skip

    async def close(self) -> None:
        await self._session.release()


def _measure_skew(node: str, batch: Batch, statuses: list[Any]) -> None:
    """The agent's clock only measures its skew: the console's clock is "now" (the store
    reads a later time as now). The skew goes on the node (``clock-skew`` finding)."""
    assert batch.time is not None
    now = time.time()
    try:
        check_time(batch.time, now, "agent time")
    except IntakeError as exc:
        raise SourceError(str(exc)) from None
    simulated = bool(statuses) and all(
        isinstance(s, dict) and s.get("type") == "sim" for s in statuses
    )  # a simulated node keeps its simulation's clock: no skew to speak of
    if simulated:
        return
    skew = round(batch.time - now, 1)
    batch.meta["clock_skew"] = skew
    for entity in batch.entities:
        if entity.ref == f"node/{node}":
            entity.attrs["clock_skew"] = skew


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    declared = response.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise SourceError(f"response too large ({declared:,} bytes > {MAX_BODY_BYTES:,})")
    try:
        return await read_body(response.content, MAX_BODY_BYTES)
    except BodyTooLarge:
        raise SourceError(f"response too large (over {MAX_BODY_BYTES:,} bytes)") from None


MAX_AGENT_URLS = 20_000
"""Agents one ``url`` range may name (``gpu[0-99999999]`` must not be expanded first)."""


def _range_size(url: str) -> int:
    """How many names a host range gives, counted without expanding it."""
    total = 1
    for group in re.findall(r"\[([^\]]*)\]", url):
        size = 0
        for part in group.split(","):
            low, dash, high = part.partition("-")
            if dash and low.strip().isdigit() and high.strip().isdigit():
                size += max(int(high) - int(low) + 1, 0)
            else:
                size += 1
        total *= max(size, 1)
    return total


def expand_urls(url: str) -> list[str]:
    """``https://gpu[001-003]:9477`` → three URLs (Slurm host-range syntax)."""
    if "[" not in url:
        return [url]
    count = _range_size(url)
    if count > MAX_AGENT_URLS:
        raise ValueError(
            f"host range in {url[:120]!r} expands to {count:,} agents, over {MAX_AGENT_URLS:,}"
        )
    try:
        return list(hostlist.expand_hostlist(url))
    except hostlist.BadHostlist as exc:
        raise ValueError(f"bad host range in {url!r}: {exc}") from None


def _read_token(path: str) -> str:
    return safe_read_token(path)


def make_agent_sources(context: SourceContext) -> list[Source]:
    """Factory for ``type: agent``: one source per URL of the (expanded) range."""
    options = context.options
    base = Path(context.base_dir)

    def resolve(name: str) -> str | None:
        value: Any = options.get(name)
        return None if value is None else str(base / value)

    token_file = resolve("token_file")
    token = _read_token(token_file) if token_file else None
    tls = ssl_context(resolve("tls_ca"), resolve("tls_cert"), resolve("tls_key"))
    from console.agent.stream_client import AgentStreamSource  # it builds on this module

    kind = AgentStreamSource if options.get("stream", True) else AgentSource
    return [
        kind(url, context.interval, float(options["timeout"]), token, tls)
        for url in expand_urls(str(options["url"]))
    ]


__all__ = ["AgentSource", "expand_urls", "make_agent_sources"]
