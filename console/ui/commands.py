"""The ``:`` command palette: ``goto <ref>`` and every plugin's commands."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from console.api import Command, Pane
from console.core.text import plain

if TYPE_CHECKING:
    from console.ui.app import WatchfloorApp


def literal(value: object, limit: int = 200) -> str:
    """Help text for a palette hit that is never parsed as markup.

    The palette runs ``Content.from_markup`` on a hit's help, and markup escaping
    is not enough (``[A=:]`` still raises ``MarkupError`` and ends the console).
    ``from_markup`` returns a ``Content`` unchanged, so the help is handed over as
    literal ``Content``; it is typed ``str`` only because ``Hit.help`` is.
    """
    return cast("str", Content(plain(value, limit)))


def prompt(value: object) -> Text:
    """A hit's prompt as plain text (a ``str`` prompt would be parsed as markup)."""
    return Text(plain(value))


MAX_HITS = 200
"""Matches shown at most: a fleet has tens of thousands of refs."""
PLUGINS_HELP = "every plugin's status, and how long each pane takes to draw"
SOURCES_HELP = "every source's status and reason (key S)"
INCIDENTS_HELP = "rewind: the recorded incidents (new critical findings); Enter opens one"
REWIND_HELP = {
    "at": "rewind to this time (HH:MM[:SS], ISO-8601, -10m)",
    "ago": "rewind this long (10m, 90s, 1h30m)",
}


class GotoProvider(Provider):
    """``goto job/4711``: jump to any entity by ref (fuzzy), and plugin commands."""

    @property
    def watchfloor(self) -> WatchfloorApp:
        return self.app  # type: ignore[return-value]

    async def discover(self) -> Hits:
        app = self.watchfloor
        for finding in app.store.findings[:20]:
            yield DiscoveryHit(
                prompt(f"goto {finding.ref}"),
                partial(app.open, finding.ref),
                help=literal(finding.title),
            )
        yield DiscoveryHit(prompt("plugins"), app.open_plugins_view, help=literal(PLUGINS_HELP))
        yield DiscoveryHit(prompt("sources"), app.open_sources_view, help=literal(SOURCES_HELP))
        if app.recording is not None:
            yield DiscoveryHit(
                prompt("incidents"), app.show_incidents, help=literal(INCIDENTS_HELP)
            )
            ago = literal("rewind: the fleet ten minutes ago (: ago 90s)")
            yield DiscoveryHit(prompt("ago 10m"), partial(app.rewind_to, "10m", True), help=ago)
            yield DiscoveryHit(prompt("live"), app.action_live, help=literal("back to live (L)"))
        for pane in app.registry.panes:
            yield DiscoveryHit(
                prompt(f"pane {pane.title}"), partial(app.open_pane, pane), help=_pane_help(pane)
            )
        for command in app.registry.commands:
            yield DiscoveryHit(
                prompt(command.name),
                partial(run_command, app, command, ""),
                help=literal(command.help),
            )

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
                    prompt(f"goto {ref}"),
                    partial(app.open, ref),
                    help=literal(entity.name) if entity else None,
                )
                found += 1
                if found >= MAX_HITS:
                    break
        if app.recording is not None:
            verb, _, argument = words.partition(" ")
            if verb in ("at", "ago") and argument.strip():
                run = partial(app.rewind_to, argument, verb == "ago")
                yield Hit(
                    1.0, prompt(f"{verb} {argument.strip()}"), run, help=literal(REWIND_HELP[verb])
                )
            for name, action, help_text in (
                ("incidents", app.show_incidents, INCIDENTS_HELP),
                ("live", app.action_live, "back to live (L)"),
            ):
                score = self.matcher(words).match(name)
                if score > 0:
                    yield Hit(score, prompt(name), action, help=literal(help_text))
        score = self.matcher(words).match("plugins")
        if score > 0:
            yield Hit(score, prompt("plugins"), app.open_plugins_view, help=literal(PLUGINS_HELP))
        score = self.matcher(words).match("sources")
        if score > 0:
            yield Hit(score, prompt("sources"), app.open_sources_view, help=literal(SOURCES_HELP))
        for pane in app.registry.panes:  # every pane, with a key or without one
            name = f"pane {pane.title}"
            score = self.matcher(words).match(name)
            if score > 0:
                yield Hit(score, prompt(name), partial(app.open_pane, pane), help=_pane_help(pane))
        for command in app.registry.commands:
            name, _, argument = words.partition(" ")
            if name == command.name:
                run = partial(run_command, app, command, argument)
                yield Hit(1.0, prompt(words), run, help=literal(command.help))
            else:
                score = self.matcher(words).match(command.name)
                if score > 0:
                    run = partial(run_command, app, command, "")
                    yield Hit(score, prompt(command.name), run, help=literal(command.help))


def _pane_help(pane: Pane) -> str:
    return literal(f"open the {pane.title} pane" + (f" (key {pane.key})" if pane.key else ""))


def run_command(app: WatchfloorApp, command: Command, argument: str) -> None:
    """Run a plugin's command; one that raises is reported, and the console goes on."""
    try:
        command.run(app, argument.strip())
    except Exception as exc:
        owner = next(
            (r.name for r in app.registry.records if r.plugin and command in r.plugin.commands),
            "?",
        )
        app.notify(
            plain(f"command {command.name} (plugin {owner}) failed: {type(exc).__name__}: {exc}"),
            severity="error",
            markup=False,
        )
