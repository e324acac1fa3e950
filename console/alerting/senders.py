"""Deliver the book's alerts: Alertmanager's v2 API, and a plain webhook.

Each sender sends from its own task, one request at a time, so a slow or absent
receiver never holds up a cycle. What it has not delivered stays owed in the
book (and its state file) and goes out on the next try; tries back off
exponentially up to the re-send interval, so a receiver that comes back has the
alerts again within one re-send interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import string
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from console.alerting.book import Alert, AlertBook
from console.alerting.config import AlertingConfig, WebhookConfig
from console.core.text import plain

log = logging.getLogger(__name__)

TIMEOUT = 10.0
"""Seconds one delivery may take."""
FIRST_BACKOFF = 1.0
ENDS_AT_RESENDS = 4
"""A firing alert's ``endsAt`` lies this many re-send intervals ahead (as Prometheus
does): if Watchfloor dies, Alertmanager resolves its alerts on its own."""
MAX_RESPONSE = 64 * 1024
BATCH = 500
"""Alerts per POST to Alertmanager."""


def _iso(seconds: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{int(seconds * 1000) % 1000:03d}Z"


def read_secret(path: Path) -> str:
    """A token from a file (stripped; empty is an error)."""
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"token file {path} is empty")
    return token


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or ValueError past ``limit`` bytes (a receiver may be hostile)."""
    body = bytearray()
    while chunk := await response.content.read(65536):
        body += chunk
        if len(body) > limit:
            raise ValueError(f"answer larger than {limit} bytes")
    return bytes(body)


def tls_context(ca: Path | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=str(ca)) if ca is not None else True


class Sender:
    """Common schedule: send when something is owed or a re-send is due; back off."""

    name = "sender"

    def __init__(self, book: AlertBook, resend: float, clock: Callable[[], float]) -> None:
        self.book = book
        self.resend = resend
        self.clock = clock
        self.failures = 0
        self.next_try = 0.0
        self.last_ok: float | None = None
        self.last_error = ""
        self.hold_until = 0.0
        """Set by a delivery that must wait (a rate limit): no try before then."""
        self._task: asyncio.Task[bool] | None = None

    def due(self, now: float) -> bool:
        if now < self.next_try:
            return False
        return bool(self.book.owed_to(self.name)) or self._resend_due(now)

    def _resend_due(self, now: float) -> bool:
        return False

    def poke(self) -> None:
        """Start a delivery in the background if one is due and none is running."""
        if self._task is not None and not self._task.done():
            return
        if self.due(self.clock()):
            self._task = asyncio.create_task(self.send())

    async def send(self) -> bool:
        """One delivery attempt now; True on success."""
        now = self.clock()
        try:
            await self._deliver(now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failures += 1
            self.last_error = plain(f"{type(exc).__name__}: {exc}", 300)
            backoff = min(self.resend, FIRST_BACKOFF * 2 ** (self.failures - 1))
            self.next_try = now + backoff
            log.warning("%s: %s; retry in %.0fs", self.name, self.last_error, backoff)
            return False
        self.failures, self.last_ok, self.last_error = 0, now, ""
        self.next_try, self.hold_until = self.hold_until, 0.0
        return True

    async def _deliver(self, now: float) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Wait briefly for a delivery in flight, then stop."""
        if self._task is not None and not self._task.done():
            with contextlib.suppress(Exception, asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, TIMEOUT)


class AlertmanagerSender(Sender):
    """POST /api/v2/alerts: every firing alert on each re-send, resolutions once."""

    def __init__(
        self,
        book: AlertBook,
        url: str,
        config: AlertingConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(book, config.resend, clock)
        self.url = url
        self.name = f"alertmanager {url}"
        self.config = config
        token = read_secret(config.token_file) if config.token_file else None
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.tls = tls_context(config.tls_ca)

    def _resend_due(self, now: float) -> bool:
        return bool(self.book.firing()) and (
            self.last_ok is None or now - self.last_ok >= self.resend
        )

    def payload(self, alerts: list[Alert], now: float) -> list[dict[str, Any]]:
        """The v2 alerts: firing ones end in a few re-sends unless re-sent; resolved ones now."""
        items = []
        for alert in alerts:
            ends = alert.ends_at
            if ends is None:
                ends = now + ENDS_AT_RESENDS * self.resend
            item: dict[str, Any] = {
                "labels": alert.labels,
                "annotations": alert.annotations,
                "startsAt": _iso(alert.starts_at or alert.first_seen),
                "endsAt": _iso(ends),
            }
            if self.config.console_url:
                item["generatorURL"] = self.config.console_url
            items.append(item)
        return items

    async def _deliver(self, now: float) -> None:
        owed = self.book.owed_to(self.name)
        alerts = {id(a): a for a in [*self.book.firing(), *owed]}
        if not alerts:
            return
        body = self.payload(list(alerts.values()), now)
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for start in range(0, len(body), BATCH):  # an outage's thousands, in batches
                request = session.post(f"{self.url}/api/v2/alerts", json=body[start:start + BATCH],
                                       headers=self.headers, ssl=self.tls)  # fmt: skip
                async with request as response:
                    if response.status >= 300:
                        text = (await response.content.read(MAX_RESPONSE)).decode(
                            "utf-8", "replace"
                        )  # a part is enough for the error line
                        raise RuntimeError(f"HTTP {response.status}: {plain(text, 200)}")
        self.book.delivered(self.name, owed)


SLACK_TEMPLATE = {"text": "[$status] $severity $summary\n$causes\n$console"}


class WebhookSender(Sender):
    """A JSON POST per new and resolved alert, at most ``max_per_minute``."""

    def __init__(
        self, book: AlertBook, config: WebhookConfig, resend: float,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        super().__init__(book, resend, clock)
        self.name = "webhook"
        self.config = config
        token = read_secret(config.token_file) if config.token_file else None
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.tls = tls_context(config.tls_ca)
        self._sent: deque[float] = deque()
        """When the posts of the last minute went out (the rate limit)."""

    def body(self, alert: Alert) -> Any:
        """The payload for one alert, in the configured template."""
        status = "resolved" if alert.ends_at is not None else "firing"
        document = {
            "status": status,
            "labels": alert.labels,
            "annotations": alert.annotations,
            "startsAt": _iso(alert.starts_at or alert.first_seen),
            "endsAt": _iso(alert.ends_at) if alert.ends_at is not None else None,
        }
        template = self.config.template
        if template == "json":
            return document
        values = {**alert.labels, **alert.annotations, "status": status}
        values.setdefault("causes", "")
        return _fill(SLACK_TEMPLATE if template == "slack" else template, values)

    async def _deliver(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= 60.0:
            self._sent.popleft()
        room = int(self.config.max_per_minute) - len(self._sent)
        if room <= 0:
            self.hold_until = self._sent[0] + 60.0  # rate-limited: the rest waits, not lost
            return
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for alert in self.book.owed_to(self.name)[:room]:
                request = session.post(
                    self.config.url, json=self.body(alert), headers=self.headers, ssl=self.tls
                )
                async with request as response:
                    if response.status >= 300:
                        raise RuntimeError(f"HTTP {response.status}")
                self._sent.append(now)
                self.book.delivered(self.name, [alert])
        if self.book.owed_to(self.name):
            self.hold_until = self._sent[0] + 60.0


def _fill(template: Any, values: dict[str, str]) -> Any:
    """``$name`` filled in every string of a template (no code runs: string.Template)."""
    if isinstance(template, str):
        return string.Template(template).safe_substitute(values)
    if isinstance(template, dict):
        return {str(k): _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template
