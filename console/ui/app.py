"""The Textual app: screens over one engine and store; panes read, never poll."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import App
from textual.binding import Binding, BindingType

from console.alerting.pager_view import PAGER
from console.alerting.pager_view import REFRESH as PAGER_REFRESH
from console.api import REFRESH_BUDGET, Analyzer, Pane, Source, SourceStatus
from console.config import WallConfig
from console.cost import CostModel
from console.engine import Engine
from console.model import VIEW_KINDS, ref_kind
from console.plugins import Registry
from console.serve.wire import expand_relayed
from console.store import Store
from console.text import plain
from console.themes_loader import (
    ROLE_DEFAULTS,
    ThemeSet,
    check_plugin_variables,
    load_themes,
    resolve_references,
    resolve_theme,
)
from console.ui.chrome import plugin_health_line
from console.ui.commands import GotoProvider
from console.ui.detail import EntityDetail, NodeDetail
from console.ui.guard import PaneHealth, make_pane
from console.ui.overview import OverviewPane
from console.ui.plugins_view import PluginsView
from console.ui.screens import HelpScreen, ViewScreen
from console.ui.wall import WallScreen, make_panes

LOCAL_SOURCE_TYPES = frozenset({"nvml", "host"})
"""Source types that describe this machine: only their processes may be acted on."""

TEXTUAL_ANSI_DEFAULTS = {"ansi-background": "ansi_default", "ansi-foreground": "ansi_default"}
"""Variables Textual's own CSS uses that its colour system leaves out for an ANSI theme
(only its built-in ANSI themes set them): without them ``--theme ansi`` cannot start."""

KEYS_HELP: list[tuple[str, str]] = [
    ("Enter", "open the selected row (drill down)"),
    ("Esc", "back one step (or clear the filter)"),
    (":", "command palette: goto <ref>, plugin commands"),
    ("/", "filter the rows of this view"),
    ("Tab", "next panel"),
    ("?", "this help"),
    (": plugins", "plugins: status, faults, pane draw times"),
    ("q", "quit"),
]
WALL_REFUSED = frozenset({
    "help", "command_palette", "open_pane", "change_theme", "show_help_panel", "screenshot",
    "suspend_process",
})  # fmt: skip
"""App actions that open a screen someone must close: off in wall mode."""


class WatchfloorApp(App[None]):
    """The console. Implements :class:`console.api.PaneContext` for the panes."""

    CSS = """
    Screen { background: $background; }
    """
    COMMANDS: ClassVar = App.COMMANDS | {GotoProvider}
    COMMAND_PALETTE_BINDING = "colon"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Keys", key_display="?"),
    ]

    def __init__(
        self,
        registry: Registry,
        sources: Sequence[Source],
        theme_name: str | None = None,
        title: str = "watchfloor",
        interval: float = 1.0,
        live: bool = True,
        warm_cycles: int = 2,
        clock: Callable[[], float] = time.time,
        themes: ThemeSet | None = None,
        read_only: bool = False,
        cost: CostModel | None = None,
        wall: WallConfig | None = None,
        analyzers: Sequence[Analyzer] | None = None,
    ) -> None:
        """Build the app.

        Args:
            registry: What the plugins provide.
            sources: What to poll.
            theme_name: A shipped or user theme; unknown names fall back with a notice.
            title: Shown first in the header.
            interval: How often the screen redraws (coalesced), in seconds.
            live: Poll in the background; ``False`` collects ``warm_cycles`` once
                (snapshot tests: deterministic frames).
            warm_cycles: Cycles collected before the first frame when not live.
            clock: Wall clock (frozen in tests).
            themes: Themes to offer (default: the shipped ones).
            read_only: Refuse every dangerous action (``--read-only``).
            cost: The site's prices.
            wall: Wall mode (``--wall``): tiles and rotating panes; read-only, and
                no key opens anything that waits for another key.
            analyzers: Instead of the plugins' analyzers (a relay viewer shows the
                findings of the console it reads).
        """
        self.wall = wall
        """Wall mode's options, or ``None`` for the interactive console."""
        self._read_only = read_only or wall is not None
        self._cost = cost or CostModel()
        self.registry = registry
        """Panes, commands and theme variables from the plugins."""
        self.plugin_variables, variable_problems = check_plugin_variables(registry.theme_variables)
        """Plugin theme variables whose defaults are valid (the rest are noticed)."""
        super().__init__()
        self.store = Store()
        """Latest state and history; the only thing panes read."""
        chosen_analyzers = registry.analyzers if analyzers is None else analyzers
        self.engine = Engine(self.store, sources, chosen_analyzers, clock=clock)
        """Polls the sources."""
        self.clock = clock
        self.title = title
        self.refresh_interval = interval
        self.live = live
        self.warm_cycles = warm_cycles
        themes = themes or load_themes()
        for theme in themes.themes.values():
            self.register_theme(theme)
        chosen, self.notices = resolve_theme(theme_name, themes)
        self.notices += variable_problems
        self.theme = chosen
        self.pane_healths: dict[str, PaneHealth] = {}
        """Refresh times and failures of every pane shown so far, by pane id."""
        if wall is not None:
            self.use_command_palette = False

    # -- PaneContext -----------------------------------------------------------

    def sources(self) -> list[SourceStatus]:
        # A relay (``watchfloor serve``) stands for the collector's own sources.
        return expand_relayed(self.engine.statuses(), self.store)

    def now(self) -> float:
        return self.clock()

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def cost(self) -> CostModel:
        return self._cost

    def is_local(self, ref: str) -> bool:
        source = self.store.entity_source.get(ref)
        types = {s.name: s.type for s in self.engine.sources}
        return types.get(source or "") in LOCAL_SOURCE_TYPES

    def open(self, ref: str) -> None:
        """Push the view of ``ref``: the plugin pane for its kind, else a core view."""
        if self.wall is not None:
            return  # a wall never leaves its rotation: nobody is there to come back
        if ref not in self.store.entities and ref_kind(ref) not in VIEW_KINDS:
            self.notify(f"nothing known as {plain(ref)}", severity="warning", markup=False)
            return
        pane: Pane | None = self.registry.pane_for(ref_kind(ref))
        if pane is not None:
            self._push_pane(pane, ref, crumb=ref)
        elif ref_kind(ref) == "node":
            self.push_screen(ViewScreen(NodeDetail(self, ref), crumb=ref))
        else:
            self.push_screen(ViewScreen(EntityDetail(self, ref), crumb=ref))

    def open_pane(self, pane: Pane) -> None:
        """Show a plugin pane's top-level view."""
        self._push_pane(pane, None, crumb=pane.title)

    def _push_pane(self, pane: Pane, ref: str | None, crumb: str) -> None:
        plugin = self.registry.plugin_of(pane.id)
        widget = make_pane(self, pane, ref)
        self.push_screen(ViewScreen(widget, crumb=crumb, view=pane.id, plugin=plugin))

    def open_plugins_view(self) -> None:
        """The Plugins view: every plugin's status, and every pane's refresh time."""
        if isinstance(self.screen, ViewScreen) and isinstance(self.screen.pane, PluginsView):
            return
        self.push_screen(ViewScreen(PluginsView(self), crumb="Plugins", view="plugins"))

    # -- plugin health ---------------------------------------------------------

    def pane_health(self, view: str, plugin: str | None = None) -> PaneHealth:
        """How a pane has been doing (refresh times, slowness, failure)."""
        health = self.pane_healths.get(view)
        if health is None:
            health = self.pane_healths[view] = PaneHealth(view, plugin)
        return health

    def pane_became_slow(self, health: PaneHealth) -> None:
        """Say once that a pane is over its refresh budget (it is now throttled)."""
        owner = f" (plugin {health.plugin})" if health.plugin else ""
        self.notify(
            f"pane {health.pane}{owner} is slow: refresh took {health.last * 1000:.0f} ms, "
            f"the budget is {REFRESH_BUDGET * 1000:.0f} ms; it is refreshed less often now. "
            "': plugins' shows the figures.",
            severity="warning", markup=False, timeout=10,
        )  # fmt: skip

    def pane_failed(self, view: str, plugin: str | None, reason: str) -> None:
        """Record and announce a pane that failed (it shows why in its place)."""
        self.pane_health(view, plugin).failure = reason
        owner = f" (plugin {plugin})" if plugin else ""
        self.notify(f"pane {view}{owner} failed: {reason}", severity="error", markup=False)

    def plugin_health_line(self, plugin: str) -> Text | None:
        """Why a plugin's pane may be missing data, for the banner above it."""
        registry = self.registry
        kinds = registry.kinds_of(plugin)
        count = sum(self.store.count(kind) for kind in kinds)
        return plugin_health_line(
            self.screen, self.sources(), registry.source_types_of(plugin), kinds, count
        )

    # -- internals -------------------------------------------------------------

    def crumbs(self) -> list[str]:
        """Breadcrumbs from the screen stack."""
        return [s.crumb for s in self.screen_stack if isinstance(s, ViewScreen)]

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # Core roles, then plugin variables; a theme file's variables override both.
        return {**TEXTUAL_ANSI_DEFAULTS, **ROLE_DEFAULTS, **self.plugin_variables}

    def get_css_variables(self) -> dict[str, str]:
        # A plugin's default may name another variable ("$warning"): it follows the theme.
        variables = resolve_references(super().get_css_variables())
        self.theme_variables = variables
        return variables

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.wall is None or action not in WALL_REFUSED

    async def on_mount(self) -> None:
        if self.wall is not None:
            for pane in self.registry.panes:
                if pane.key:
                    self.bind(pane.key, f"wall_pane('{pane.id}')", show=False)
            await self.push_screen(WallScreen(self.wall, make_panes(self, self.wall.panes)))
        else:
            for pane in self.registry.panes:
                if pane.key:
                    self.bind(pane.key, f"open_pane('{pane.id}')", description=pane.title)
            await self.push_screen(
                ViewScreen(OverviewPane(self), crumb="Overview", view="overview")
            )
        for notice in self.notices:
            self.notify(notice, severity="warning", markup=False, timeout=10)
        failed = [r for r in self.registry.records if r.status != "loaded"]
        if len(failed) == 1:
            message = f"plugin {plain(failed[0].name)} not loaded: {plain(failed[0].reason)}"
        else:  # one notice, not a wall of them: the Plugins view has every reason
            heads = [
                f"{plain(r.name)} ({plain(r.reason.split(':')[0].split(',')[0], 40)})"
                for r in failed
            ]
            message = f"{len(failed)} plugins not loaded: {', '.join(heads)}"
        if failed:
            self.notify(message + " — ': plugins' for details", severity="error",
                        markup=False, timeout=15)  # fmt: skip
        if self.live:
            self.engine.after_analysis = self._first_data
            self.engine.start()
            self.set_interval(self.refresh_interval, self._tick)
            if PAGER.enabled:
                # The pager's view (paged? silenced?) is read by a worker, never by a redraw.
                self._read_pager()
                self.set_interval(PAGER_REFRESH, self._read_pager)
        else:
            await self.engine.collect(self.warm_cycles)
            self._tick()

    def _read_pager(self) -> None:
        self.run_worker(self._pager_changed(), group="pager", exclusive=True, exit_on_error=False)

    async def _pager_changed(self) -> None:
        if await PAGER.refresh():
            screen = self.screen  # the store did not move: redraw what shows the marks
            if isinstance(screen, ViewScreen | WallScreen):
                screen.redraw(force=True)

    def _first_data(self) -> None:
        # Draw the first data at once rather than at the next tick; then the tick paces.
        self.engine.after_analysis = None
        self.call_later(self._tick)

    def _tick(self) -> None:
        screen = self.screen
        if isinstance(screen, ViewScreen | WallScreen):
            screen.redraw()

    def action_wall_pane(self, pane_id: str) -> None:
        screen = self.screen
        if isinstance(screen, WallScreen):
            screen.jump(pane_id)

    def action_open_pane(self, pane_id: str) -> None:
        pane = next((p for p in self.registry.panes if p.id == pane_id), None)
        if pane is not None:
            self.open_pane(pane)

    def action_help(self) -> None:
        keys = list(KEYS_HELP)
        keys += [(p.key, f"{p.title} pane") for p in self.registry.panes if p.key]
        self.push_screen(HelpScreen(keys))

    async def on_unmount(self) -> None:
        await self.engine.stop()
