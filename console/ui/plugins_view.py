"""The Plugins view (``: plugins``): what each plugin provides and how it is doing.

The place to look when a pane is empty, slow or broken: every discovered plugin
with its status and reason, what it provides, its failing sources and analyzers,
and every pane's refresh time against the budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from console.api import REFRESH_BUDGET
from console.core.plugins import PluginRecord
from console.core.text import plain
from console.ui.kit import EntityTable, PaneBase, cell, role_style, title_bar

if TYPE_CHECKING:
    from console.ui.app import WatchfloorApp


class PluginsView(PaneBase):
    """Every plugin and every pane, with what is wrong with them."""

    DEFAULT_CSS = """
    PluginsView > #plugins { height: auto; max-height: 45%; }
    PluginsView > #plugin-detail { height: auto; max-height: 8; padding: 0 1; }
    PluginsView > #panes { height: 1fr; }
    """

    @property
    def watchfloor(self) -> WatchfloorApp:
        """The app, typed (this view reads more than a plugin pane may)."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield title_bar("Plugins (Enter: everything about one)")
        yield EntityTable(
            self.context, ("Plugin", "Status", "Why", "Version", "Provides"),
            id="plugins", on_open=self.show_plugin,
        )  # fmt: skip
        yield Static(id="plugin-detail")
        yield title_bar(f"Panes: time to draw, budget {REFRESH_BUDGET * 1000:.0f} ms")
        yield EntityTable(
            self.context, ("Pane", "Plugin", "Last", "Worst", "Status"), id="panes", openable=False
        )

    def refresh_view(self) -> None:
        self.query_one("#plugins", EntityTable).sync(self._plugin_rows())
        self.query_one("#panes", EntityTable).sync(self._pane_rows())

    def show_plugin(self, key: str) -> None:
        """Everything about one plugin, wrapped, under the table."""
        record = self.watchfloor.registry.record(key.removeprefix("plugin:"))
        if record is None:
            return
        text = Text()
        text.append(f"{plain(record.name)} {plain(record.version)}", style="bold")
        text.append(f"  {plain(record.distribution)}  {plain(record.origin)}  {record.status}\n")
        provided = self.watchfloor.registry.provides(record.name)
        if provided:
            text.append(f"provides: {plain(provided, 400)}\n")
        for line in self._problems(record):
            text.append("• " + plain(line, 400) + "\n")
        self.query_one("#plugin-detail", Static).update(text)

    def _problems(self, record: PluginRecord) -> list[str]:
        app = self.watchfloor
        registry = app.registry
        lines = [record.reason] if record.reason else []
        types = registry.source_types_of(record.name)
        for status in app.sources():
            if status.type in types and status.status in ("failed", "stale"):
                lines.append(f"source {status.name} {status.status}: {status.reason}")
        for analyzer, reason in app.engine.analyzer_errors.items():
            if registry.analyzer_plugin.get(analyzer) == record.name:
                lines.append(f"analyzer {analyzer} raised {reason}")
        for health in app.pane_healths.values():
            if health.plugin == record.name and (health.failure or health.slow):
                lines.append(f"pane {health.pane} {health.summary()}")
        return lines + record.notes

    def _plugin_rows(self) -> Iterable[tuple[str, list[Text]]]:
        registry = self.watchfloor.registry
        for record in registry.records:
            problems = self._problems(record)
            troubled = record.status != "loaded" or bool(problems and problems != record.notes)
            status = record.status + (
                " (trouble)" if record.status == "loaded" and troubled else ""
            )
            role = "failed" if troubled else "ok"
            yield (
                f"plugin:{record.name}",
                [
                    cell(record.name, limit=24),
                    cell(status, style=role_style(self, role, bold=troubled)),
                    cell("; ".join(problems), limit=300),
                    cell(record.version, limit=12),
                    cell(registry.provides(record.name), limit=300),
                ],
            )

    def _pane_rows(self) -> Iterable[tuple[str, list[Text]]]:
        app = self.watchfloor
        seen = {pane.id for pane in app.registry.panes}
        views = [app.pane_health(pane.id, app.registry.plugin_of(pane.id)) for pane in
                 app.registry.panes]  # fmt: skip
        views += [h for name, h in app.pane_healths.items() if name not in seen]
        for health in views:
            shown = health.refreshes > 0
            bad = bool(health.failure) or health.slow
            yield (
                f"pane:{health.pane}",
                [
                    cell(health.pane, limit=24),
                    cell(health.plugin or "console", limit=24),
                    cell(f"{health.last * 1000:.1f} ms" if shown else "—"),
                    cell(f"{health.worst * 1000:.1f} ms" if shown else "—"),
                    cell(
                        health.summary() if bad else ("ok" if shown else "not shown yet"),
                        style=role_style(self, "failed", bold=True) if bad else "",
                        limit=300,
                    ),
                ],
            )
