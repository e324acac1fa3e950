"""What the pager knows of each finding, for the console: has it paged, and is it
silenced in Alertmanager? So the screen and the pager tell one story.

Read off the UI's loop (an async task every ``REFRESH`` seconds): the alert state
file that ``watch`` (or ``serve``) keeps, and Alertmanager's own list of our alerts
with the silences holding each. The UI only reads the result.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from console.alerting.book import AlertBook
from console.alerting.config import AlertingConfig
from console.alerting.senders import read_bounded, read_secret, tls_context
from console.core.text import plain

log = logging.getLogger(__name__)

REFRESH = 15.0
"""Seconds between reads."""
TIMEOUT = 5.0
MAX_ANSWER = 8 * 1024 * 1024


@dataclass(frozen=True)
class PageState:
    """One finding as the pager sees it."""

    paged: bool = True
    silenced_by: tuple[str, ...] = ()

    def label(self) -> str:
        """``silenced`` or ``paged``: what the console shows next to the finding."""
        return "silenced" if self.silenced_by else "paged"


@dataclass
class PagerView:
    """The pager's view by finding key (``kind|ref``), refreshed in the background."""

    config: AlertingConfig = field(default_factory=AlertingConfig)
    states: dict[str, PageState] = field(default_factory=dict)
    error: str = ""
    """Why the last read failed (shown nowhere loud: the console works without it)."""

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def configure(self, config: AlertingConfig) -> None:
        self.config, self.states, self.error = config, {}, ""

    def state(self, kind: str, ref: str) -> PageState | None:
        return self.states.get(f"{kind}|{ref}")

    async def refresh(self) -> bool:
        """Read the state file and Alertmanager; replace ``states`` in one step.
        True when what the console should show changed."""
        states: dict[str, PageState] = {}
        path = self.config.state_file
        if path is None:
            from console.alerting.service import default_state_file

            path = default_state_file()
        for key in await asyncio.to_thread(_paged_keys, self.config, path):
            states[key] = PageState()
        errors = []
        for url in self.config.alertmanager[:1]:
            try:
                states.update(await self._from_alertmanager(url))
            except Exception as exc:
                errors.append(plain(f"{url}: {type(exc).__name__}: {exc}", 200))
        changed = states != self.states
        self.states, self.error = states, "; ".join(errors)
        return changed

    async def _from_alertmanager(self, url: str) -> dict[str, PageState]:
        token = read_secret(self.config.token_file) if self.config.token_file else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        query = {"filter": ['source="watchfloor"', f'cluster="{self.config.cluster}"']}
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(
                f"{url}/api/v2/alerts",
                params=_pairs(query),
                headers=headers,
                ssl=tls_context(self.config.tls_ca),
            ) as response,  # fmt: skip
        ):
            response.raise_for_status()
            data = json.loads(await read_bounded(response, MAX_ANSWER))
        found: dict[str, PageState] = {}
        for item in data if isinstance(data, list) else []:
            if not isinstance(item, dict):
                continue
            labels = item.get("labels") or {}
            status = item.get("status") or {}
            kind, ref = labels.get("alertname"), labels.get("ref")
            if isinstance(kind, str) and isinstance(ref, str):
                silences = status.get("silencedBy") or [] if isinstance(status, dict) else []
                found[f"{kind}|{ref}"] = PageState(True, tuple(plain(s, 64) for s in silences))
        return found


def _pairs(query: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(key, value) for key, values in query.items() for value in values]


def _paged_keys(config: AlertingConfig, path: Path) -> list[str]:
    """Keys of the alerts firing in the state file (read-only: sinks are not touched)."""
    book = AlertBook(config, [], None)
    book.load(path)
    return [alert.key for alert in book.firing()]


PAGER = PagerView()
"""The console's view of the pager (one console per process)."""
