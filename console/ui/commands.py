"""The ``:`` command palette: ``goto <ref>`` and every plugin's commands."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider

from console.text import plain

if TYPE_CHECKING:
    from console.ui.app import WatchfloorApp

MAX_HITS = 200
"""Matches shown at most: a fleet has tens of thousands of refs."""


class GotoProvider(Provider):
    """``goto job/4711``: jump to any entity by ref (fuzzy), and plugin commands."""

    @property
    def watchfloor(self) -> WatchfloorApp:
        return self.app  # type: ignore[return-value]

    async def discover(self) -> Hits:
        app = self.watchfloor
        for finding in app.store.findings[:20]:
            yield DiscoveryHit(
                Text(f"goto {plain(finding.ref)}"),
                partial(app.open, finding.ref),
                help=plain(finding.title),
            )
        for command in app.registry.commands:
            yield DiscoveryHit(command.name, partial(command.run, app, ""), help=command.help)

    async def search(self, query: str) -> Hits:
        app = self.watchfloor
        words = query.strip()
        target = words[5:].strip() if words.lower().startswith("goto ") else words
        matcher = self.matcher(target if target else words)
        found = 0
        for ref in list(app.store.entities):
            score = matcher.match(ref)
            if score > 0:
                entity = app.store.entities.get(ref)
                yield Hit(
                    score,
                    Text(f"goto {plain(ref)}"),
                    partial(app.open, ref),
                    help=plain(entity.name) if entity else None,
                )
                found += 1
                if found >= MAX_HITS:
                    break
        for command in app.registry.commands:
            name, _, argument = words.partition(" ")
            if name == command.name:
                yield Hit(1.0, Text(words), partial(command.run, app, argument), help=command.help)
            else:
                score = self.matcher(words).match(command.name)
                if score > 0:
                    yield Hit(score, command.name, partial(command.run, app, ""), help=command.help)
