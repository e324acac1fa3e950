"""The Textual app: screens over one engine and store; panes read, never poll."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from console.api import Analyzer, Pane, Source, SourceStatus
from console.config import WallConfig
from console.cost import CostModel
from console.engine import Engine
from console.model import VIEW_KINDS, ref_kind
from console.plugins import Registry
from console.serve.wire import expand_relayed
from console.store import Store
from console.themes_loader import ROLE_DEFAULTS, ThemeSet, load_themes, resolve_theme
from console.ui.commands import GotoProvider
from console.ui.detail import EntityDetail, NodeDetail
from console.ui.kit import PaneBase
from console.ui.overview import OverviewPane
from console.ui.screens import HelpScreen, ViewScreen
from console.ui.wall import WallScreen, make_panes

LOCAL_SOURCE_TYPES = frozenset({"nvml", "host"})
"""Source types that describe this machine: only their processes may be acted on."""

KEYS_HELP: list[tuple[str, str]] = [
    ("Enter", "open the selected row (drill down)"),
    ("Esc", "back one step (or clear the filter)"),
    (":", "command palette: goto <ref>, plugin commands"),
    ("/", "filter the rows of this view"),
    ("Tab", "next panel"),
    ("?", "this help"),
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
        self.theme = chosen
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
            self.notify(f"nothing known as {ref}", severity="warning", markup=False)
            return
        self.push_screen(ViewScreen(self._pane_for(ref), crumb=ref))

    # -- internals -------------------------------------------------------------

    def _pane_for(self, ref: str) -> PaneBase:
        kind = ref_kind(ref)
        pane: Pane | None = self.registry.pane_for(kind)
        if pane is not None:
            try:
                widget = pane.create(self, ref)
                if isinstance(widget, PaneBase):
                    return widget
            except Exception as exc:
                self.notify(f"pane {pane.id} failed: {exc}", severity="error", markup=False)
        if kind == "node":
            return NodeDetail(self, ref)
        return EntityDetail(self, ref)

    def open_pane(self, pane: Pane) -> None:
        """Show a plugin pane's top-level view."""
        self.push_screen(ViewScreen(pane.create(self, None), crumb=pane.title))

    def crumbs(self) -> list[str]:
        """Breadcrumbs from the screen stack."""
        return [s.crumb for s in self.screen_stack if isinstance(s, ViewScreen)]

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # Core roles, then plugin variables; a theme file's variables override both.
        return {**ROLE_DEFAULTS, **self.registry.theme_variables}

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
            await self.push_screen(ViewScreen(OverviewPane(self), crumb="Overview"))
        for notice in self.notices:
            self.notify(notice, severity="warning", markup=False, timeout=10)
        if self.live:
            self.engine.after_analysis = self._first_data
            self.engine.start()
            self.set_interval(self.refresh_interval, self._tick)
        else:
            await self.engine.collect(self.warm_cycles)
            self._tick()

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
