"""Alerting as a per-cycle consumer: findings → rules → the book → the senders."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from console.alerting.book import AlertBook
from console.alerting.config import AlertingConfig
from console.alerting.rules import paging
from console.alerting.senders import AlertmanagerSender, Sender, WebhookSender
from console.collector.watch import Cycle

log = logging.getLogger(__name__)


def default_state_file() -> Path:
    """``$XDG_STATE_HOME/watchfloor/alerts.json``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "watchfloor" / "alerts.json"


class Alerting:
    """Pages for the findings of each cycle; remembers what it paged across restarts."""

    def __init__(self, config: AlertingConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        sinks = [f"alertmanager {url}" for url in config.alertmanager]
        sinks += ["webhook"] if config.webhook else []
        self.book = AlertBook(config, sinks, config.state_file or default_state_file())
        self.managers = [
            AlertmanagerSender(self.book, url, config, clock) for url in config.alertmanager
        ]
        self.senders: list[Sender] = list(self.managers)
        if config.webhook is not None:
            self.senders.append(WebhookSender(self.book, config.webhook, config.resend, clock))

    async def on_cycle(self, cycle: Cycle) -> None:
        """Apply this cycle's findings and start whatever deliveries are due."""
        if not cycle.warm:
            return  # before every source has landed twice, a missing finding proves nothing
        candidates = paging(cycle.store, cycle.store.findings, self.config)
        self.book.update(cycle.store, candidates, self.clock())
        for sender in self.senders:
            sender.poke()

    def paged(self, key: str) -> bool:
        """Whether the finding ``kind|ref`` is paging now."""
        alert = self.book.open.get(key)
        return alert is not None and alert.firing

    async def close(self) -> None:
        """Deliver what is owed (briefly), save the state."""
        for sender in self.senders:
            await sender.close()
            if self.book.owed_to(sender.name):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sender.send(), 5.0)
        self.book.save()
