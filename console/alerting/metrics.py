"""``watchfloor_finding{kind,severity,ref,node,job,cluster} 1``: every current finding as a
Prometheus series, so Prometheus rules can use them (``watch`` and ``serve`` expose it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from console.alerting.rules import scopes
from console.core.store import Store
from console.core.text import plain

LABELS = ("kind", "severity", "ref", "node", "job", "cluster", "paged")
MAX_SERIES = 10_000
"""Findings exposed at most (a scrape stays bounded whatever analysis finds)."""


class FindingsCollector(Collector):
    """Reads the store's findings at scrape time (nothing kept between scrapes)."""

    def __init__(
        self, store: Callable[[], Store], cluster: str, paged: Callable[[str], bool]
    ) -> None:
        self.store = store
        self.cluster = cluster
        self.paged = paged
        """``kind|ref`` → whether that finding has paged."""

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "watchfloor_finding", "A current Watchfloor finding (1 while it lasts)", labels=LABELS
        )
        store = self.store()
        for finding in store.findings[:MAX_SERIES]:
            where = scopes(store, finding)
            family.add_metric(
                [
                    finding.kind, finding.severity, plain(finding.ref, 200),
                    plain(",".join(sorted(where["node"])), 200),
                    plain(",".join(sorted(where["job"])), 200),
                    self.cluster,
                    "true" if self.paged(f"{finding.kind}|{finding.ref}") else "false",
                ],
                1.0,
            )  # fmt: skip
        yield family
        yield GaugeMetricFamily(
            "watchfloor_findings", "How many findings Watchfloor has now", value=len(store.findings)
        )


def findings_registry(collector: FindingsCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The exposition and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def metrics_handler(
    collector: FindingsCollector,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler for ``GET /metrics``."""
    registry = findings_registry(collector)

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = render(registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    return metrics
