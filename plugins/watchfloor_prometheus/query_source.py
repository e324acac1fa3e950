"""The ``prometheus`` source: the fleet from a Prometheus-compatible query API.

Instead of polling every node, one console asks Prometheus (or VictoriaMetrics,
Thanos, Mimir) for the latest value of every series the mapping tables know: one
instant query per table, ``max by (the labels the table reads) ({__name__=~"…"})``,
so a 1,000-node fleet is a handful of requests whose answers carry only the
labels that matter. The series keep the exporters' names and labels (plus
``instance``), so the same tables as the exporter source map them.

A server that does not answer, or a query it refuses (its ``errorType`` and
``error`` are the reason), fails the poll: the engine shows the source failed
and keeps the last good data.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from console.api import Batch, Source, SourceContext, SourceError, plain
from watchfloor_prometheus.exposition import Series
from watchfloor_prometheus.http import Client, read_token, ssl_context
from watchfloor_prometheus.mapping import Builder, Scope, Table
from watchfloor_prometheus.tables import map_series, select


def promql(table: Table, selector: str, extra_labels: tuple[str, ...]) -> str:
    """The one query that reads a table's series (latest value, needed labels only)."""
    matchers = f'__name__=~"{table.names}"' + (f", {selector}" if selector else "")
    keep = ", ".join(dict.fromkeys(("__name__", *table.keep, *extra_labels)))
    return f"max by ({keep}) ({{{matchers}}})"


def decode_vector(body: bytes, what: str) -> list[Series]:
    """Series from an ``/api/v1/query`` answer, or SourceError with the API's own reason."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise SourceError(f"{what}: not a Prometheus API answer: {plain(body[:80])!r}") from None
    if not isinstance(document, dict):
        raise SourceError(f"{what}: not a Prometheus API answer")
    if document.get("status") != "success":
        kind = plain(document.get("errorType") or "error", 40)
        raise SourceError(f"{what}: {kind}: {plain(document.get('error') or '?', 240)}")
    data = document.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        found = data.get("resultType") if isinstance(data, dict) else None
        raise SourceError(f"{what}: expected an instant vector, got {plain(found)}")
    series: list[Series] = []
    # One dict per distinct label set, shared by its series, as the exposition reader
    # does: the tables resolve each label set once, not once per series.
    shared: dict[tuple[tuple[str, str], ...], dict[str, str] | None] = {}
    for item in data.get("result") or ():
        try:
            labels = item["metric"]
            value = float(item["value"][1])
            name = labels.pop("__name__")
            key = tuple(labels.items())
            known = shared.get(key, _UNSEEN)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            continue  # one malformed series is left out, not the whole answer
        if known is _UNSEEN:
            valid = all(isinstance(k, str) and isinstance(v, str) for k, v in key)
            known = shared[key] = labels if valid else None
        if known is not None and isinstance(name, str):
            series.append((name, known, value))
    return series


_UNSEEN: Any = object()


class PrometheusSource(Source):
    """One Prometheus server, read with one query per mapping table."""

    type = "prometheus"

    def __init__(
        self,
        url: str,
        interval: float,
        tables: list[Table],
        selector: str = "",
        timeout: float = 10.0,
        node_label: str | None = None,
        options: dict[str, Any] | None = None,
        client: Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = f"prometheus:{self.url.split('://', 1)[-1]}"
        self.interval = interval
        self.request_timeout = timeout
        self.timeout = timeout + 2.0
        self.tables = tables
        options = options or {}
        extra = tuple(str(options[k]) for k in ("node_label", "switch_label", "port_label")
                      if options.get(k))  # fmt: skip
        self.queries = [(table, promql(table, selector, extra)) for table in tables]
        self.scope = Scope(time=0.0, node_label=node_label, options=options)
        self.client = client or Client(timeout, None, None)

    async def poll(self) -> Batch:
        answers = await asyncio.gather(*(self._query(table, q) for table, q in self.queries))
        now = time.time()
        return await asyncio.to_thread(self.read, answers, now)

    def read(self, answers: list[tuple[Table, bytes]], now: float) -> Batch:
        """Decode and map every table's answer (blocking)."""
        self.scope.time = now
        out = Builder()
        for table, body in answers:
            map_series(decode_vector(body, f"{table.name} query"), [table], self.scope, out)
        return out.batch(now)

    async def _query(self, table: Table, query: str) -> tuple[Table, bytes]:
        form = {"query": query, "timeout": f"{self.request_timeout:g}s"}
        status, body = await self.client.request(
            "POST", f"{self.url}/api/v1/query", what="prometheus", accept="application/json",
            data=form,
        )  # fmt: skip
        if status != 200:
            try:
                decode_vector(body, f"{table.name} query")  # the API's errorType and error
            except SourceError as exc:
                if "not a Prometheus API answer" not in str(exc):
                    raise
            raise SourceError(f"HTTP {status} from {self.url}/api/v1/query")
        return table, body

    async def close(self) -> None:
        await self.client.close()


def make_prometheus_sources(context: SourceContext) -> list[Source]:
    """Factory for ``type: prometheus``."""
    options = dict(context.options)
    url = str(options["url"])
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url must be http:// or https://, not {url!r}")
    base = Path(context.base_dir)
    resolve = lambda name: None if options.get(name) is None else str(base / options[name])  # noqa: E731
    token = read_token(resolve("token_file")) if options.get("token_file") else None  # type: ignore[arg-type]
    tls = ssl_context(resolve("tls_ca"), resolve("tls_cert"), resolve("tls_key"))
    timeout = float(options["timeout"])
    selector = str(options.get("selector") or "").strip().strip("{}")
    if options.get("job"):
        job = str(options["job"]).replace("\\", "\\\\").replace('"', '\\"')
        selector = ", ".join(part for part in (selector, f'job=~"{job}"') if part)
    return [
        PrometheusSource(
            url,
            context.interval,
            select(str(options["exporters"])),
            selector,
            timeout,
            options.get("node_label"),
            options,
            Client(timeout, token, tls),
        )
    ]
