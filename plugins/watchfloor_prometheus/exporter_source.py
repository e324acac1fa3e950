"""The ``exporter`` source: one Prometheus text exposition, over HTTP(S) or from a file.

Point it at dcgm-exporter (``:9400/metrics``), node_exporter (``:9100/metrics``),
a vLLM server, snmp_exporter (``/snmp?target=leaf01&module=if_mib``), an agent's
``/metrics``, or a node_exporter textfile (``file:///var/lib/…/metrics.prom``).
Which table reads it is found from the metric names (``exporter: auto``) or named.
Parsing and mapping run on a thread: a 1,000-GPU exposition takes tens of ms.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from console.api import Batch, Source, SourceContext, SourceError, UnsafeFile, read_text_async
from watchfloor_prometheus.exposition import ExpositionError, parse
from watchfloor_prometheus.http import MAX_BODY_BYTES, Client, read_token, ssl_context
from watchfloor_prometheus.mapping import Builder, Scope, Table
from watchfloor_prometheus.tables import map_series, select

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
ACCEPT = "text/plain;version=0.0.4;q=1.0,*/*;q=0.1"
"""The classic text format: never protobuf, and no OpenMetrics negotiation."""


def this_host() -> str:
    """This machine's short name (what the host and NVML sources call it)."""
    return socket.gethostname().split(".")[0]


class ExporterSource(Source):
    """One exposition URL."""

    type = "exporter"

    def __init__(
        self,
        url: str,
        interval: float,
        tables: list[Table],
        timeout: float = 5.0,
        node: str | None = None,
        options: dict[str, Any] | None = None,
        client: Client | None = None,
    ) -> None:
        self.url = url
        parts = urlsplit(url)
        self.path: Path | None = Path(unquote(parts.path)) if parts.scheme == "file" else None
        self.name = f"exporter:{self.path.name if self.path else parts.netloc}"
        self.interval = interval
        self.request_timeout = timeout
        self.timeout = timeout + 2.0  # our own timeout speaks first, with a clearer word
        self.tables = tables
        host = parts.hostname or ""
        target = parse_qs(parts.query).get("target", [None])[0]  # snmp_exporter's device
        # A file is nobody's in particular: it names its own node (its stem) rather
        # than landing on this machine beside the host source; a loopback URL is
        # this machine's own exporter.
        if self.path is not None:
            own = self.path.stem or self.path.name
        else:
            own = this_host() if host in LOOPBACK else host
        default = target or own
        self.scope = Scope(
            time=0.0, node=node, default_node=default, instance=parts.netloc or None,
            options=options or {},
        )  # fmt: skip
        self.client = client or Client(timeout, None, None)

    async def poll(self) -> Batch:
        text = await self._read()
        now = time.time()
        return await asyncio.to_thread(self.read, text, now)

    def read(self, text: str, now: float) -> Batch:
        """Parse and map one exposition (blocking)."""
        try:
            series = parse(text)
        except ExpositionError as exc:
            raise SourceError(f"{self.url}: {exc}") from None
        self.scope.time = now
        out = Builder()
        map_series(series, self.tables, self.scope, out)
        if series and not out.entities:
            raise SourceError(f"{len(series)} samples, none an exporter this source maps "
                              f"({', '.join(t.name for t in self.tables)})")  # fmt: skip
        return out.batch(now)

    async def _read(self) -> str:
        if self.path is not None:
            return await _read_file(self.path, max(1.0, self.timeout - 0.5))
        status, body = await self.client.request("GET", self.url, what="exporter", accept=ACCEPT)
        if status != 200:
            raise SourceError(f"HTTP {status} from {self.url}")
        return body.decode("utf-8", "replace")

    async def close(self) -> None:
        await self.client.close()


async def _read_file(path: Path, timeout: float) -> str:
    try:  # a FIFO or /dev/zero named as the file is refused, a stuck read abandoned
        return await read_text_async(path, MAX_BODY_BYTES, timeout, errors="replace")
    except UnsafeFile as exc:
        raise SourceError(str(exc)) from None


def make_exporter_sources(context: SourceContext) -> list[Source]:
    """Factory for ``type: exporter``."""
    options = dict(context.options)
    url = str(options["url"])
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"url must be http://, https:// or file://, not {url!r}")
    if scheme == "file":
        path = Path(unquote(urlsplit(url).path))
        if not path.is_absolute() or urlsplit(url).netloc:
            path = Path(context.base_dir) / (urlsplit(url).netloc + unquote(urlsplit(url).path))
        url = path.resolve().as_uri()
    base = Path(context.base_dir)
    resolve = lambda name: None if options.get(name) is None else str(base / options[name])  # noqa: E731
    token = read_token(resolve("token_file")) if options.get("token_file") else None  # type: ignore[arg-type]
    tls = ssl_context(resolve("tls_ca"), resolve("tls_cert"), resolve("tls_key"))
    timeout = float(options["timeout"])
    tables = select(str(options["exporter"]))
    if options.get("gpus"):
        from watchfloor_prometheus.vllm import parse_gpus

        parse_gpus(str(options["gpus"]))  # a mistake is a config error now, not every poll
    return [
        ExporterSource(
            url,
            context.interval,
            tables,
            timeout,
            options.get("node"),
            options,
            Client(timeout, token, tls),
        )
    ]
