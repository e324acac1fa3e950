"""The Textual app: screens over one engine and store; panes read, never poll."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.driver import Driver

from console.acting.actions import Actions
from console.alerting.pager_view import PAGER
from console.alerting.pager_view import REFRESH as PAGER_REFRESH
from console.analysis.cost import CostModel
from console.api import REFRESH_BUDGET, Analyzer, Pane, Source, SourceStatus
from console.collector.delta import LOCAL_SOURCE_TYPES
from console.collector.gate import INPUT_GATE
from console.core.config import WallConfig
from console.core.engine import Engine
from console.core.model import VIEW_KINDS, ref_kind
from console.core.plugins import Registry
from console.core.store import Store
from console.core.text import plain
from console.recording import RecordingError
from console.recording.past import past_moment, past_sources
from console.serve.wire import expand_relayed
from console.ui.chrome import plugin_health_line
from console.ui.commands import GotoProvider
from console.ui.detail import EntityDetail, NodeDetail
from console.ui.guard import PaneHealth, make_pane
from console.ui.overview import OverviewPane, SourcesPane
from console.ui.pauses import QuietCollector
from console.ui.plugins_view import PluginsView
from console.ui.quick_escape import driver_for, quick_escape
from console.ui.rewind import (
    BIG_STEP,
    HOUR,
    STEP,
    WARM_SECONDS,
    IncidentsScreen,
    RewindReader,
    banner,
    rewind_keys,
    target_time,
)
from console.ui.screens import HelpScreen, ViewScreen
from console.ui.themes_loader import (
    ROLE_DEFAULTS,
    ThemeSet,
    check_plugin_variables,
    load_themes,
    resolve_references,
    resolve_theme,
)
from console.ui.wall import WallScreen, make_panes

TEXTUAL_ANSI_DEFAULTS = {"ansi-background": "ansi_default", "ansi-foreground": "ansi_default"}
"""Variables Textual's own CSS uses that its colour system leaves out for an ANSI theme
(only its built-in ANSI themes set them): without them ``--theme ansi`` cannot start."""

KEYS_HELP: list[tuple[str, str]] = [
    ("Enter", "open the selected row (drill down)"),
    ("Esc", "back one step (or clear the filter)"),
    (":", "command palette: goto <ref>, plugin commands"),
    ("/", "filter the rows of this view"),
    ("Tab", "next panel"),
    ("d", "drain the selected node in Slurm (asks first)"),
    ("?", "this help"),
    (": plugins", "plugins: status, faults, pane draw times"),
    ("S", "sources: every source's status and reason"),
    ("q", "quit"),
]
WALL_REFUSED = frozenset({
    "help", "command_palette", "open_pane", "change_theme", "show_help_panel", "screenshot",
    "suspend_process", "sources",
})  # fmt: skip
"""App actions that open a screen someone must close: off in wall mode."""


PREPARE_QUIET = 1.0
"""Seconds without a key before the panes' screens are built ahead."""
MIRROR_HISTORY = 40
"""Points a mirror of a collector's store keeps per series: the widest sparkline on
screen (the fabric pane's 40); the collector keeps the full history for analysis and
records it, and rewind reads the recording (two full stores cost twice the memory)."""
MIRROR_LONGER = {"gpu.util": 100}
"""Series plotted further back: the GPU list's 10 characters of 10 s each."""


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
        Binding("S", "sources", "Sources", show=False),
        Binding("left_square_bracket", f"rewind_step(-{STEP})", show=False),
        Binding("right_square_bracket", f"rewind_step({STEP})", show=False),
        Binding("left_curly_bracket", f"rewind_step(-{BIG_STEP})", show=False),
        Binding("right_curly_bracket", f"rewind_step({BIG_STEP})", show=False),
        Binding("L", "live", show=False),
        Binding("H", "hour", show=False),
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
        actions: Actions | None = None,
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
            actions: Drain, requeue … and their audit log (default: allowed, the
                default log); refused whatever it says under ``read_only`` or wall mode.
        """
        self.wall = wall
        """Wall mode's options, or ``None`` for the interactive console."""
        self._read_only = read_only or wall is not None
        self._cost = cost or CostModel()
        self._actions = actions or Actions()
        self._actions.read_only = self._actions.read_only or self._read_only
        self.registry = registry
        """Panes, commands and theme variables from the plugins."""
        self.plugin_variables, variable_problems = check_plugin_variables(registry.theme_variables)
        """Plugin theme variables whose defaults are valid (the rest are noticed)."""
        super().__init__()
        quick_escape()
        mirror = analyzers is not None  # it mirrors a collector's store
        self.store = Store(MIRROR_HISTORY, MIRROR_LONGER) if mirror else Store()
        """Latest state and history; the only thing panes read (while rewinding, the
        fleet rebuilt from the recording at that second)."""
        self.live_store = self.store
        """What the engine polls into, rewinding or not."""
        chosen_analyzers = registry.analyzers if analyzers is None else analyzers
        self.engine = Engine(self.store, sources, chosen_analyzers, clock=clock)
        """Polls the sources."""
        self.clock = clock
        self.started_at = clock()
        """When the console started: the header counts the first cycle's wait from it."""
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
        self._gc_pauses = QuietCollector()
        self.recording: Path | None = None
        """The flight recording this console writes (or replays): what rewind reads."""
        self.replay: tuple[float, float] | None = None
        """``replay``: where to start and the speed; there is no live to return to."""
        self.rewind_at: float | None = None
        """The recorded second shown, or ``None`` when live."""
        self.hour_sparklines = False
        """While rewinding: sparklines span the last hour (``H``) instead of two minutes."""
        self._rewind_statuses: list[SourceStatus] = []
        self.past_sources: list[Source] = past_sources(sources)
        """Sources that keep their own past (Prometheus): rewind reads them for times
        before the recording starts (``console.recording.past``)."""
        self.rewind_origin: str | None = None
        """While rewinding before the recording: the sources the moment was read from."""
        self._reader: RewindReader | None = None
        self._rewind_preparing = False
        """Whether the reader is making ahead what a first seek makes, or has
        (:meth:`prepare_rewind`)."""
        self._recorded_since: float | None = None
        """The time of this session's first data (:meth:`prepare_rewind`)."""
        self._span: tuple[float, float] | None = None
        self.pane_healths: dict[str, PaneHealth] = {}
        """Refresh times and failures of every pane shown so far, by pane id."""
        self.pane_screens: dict[str, ViewScreen] = {}
        """Each plugin pane's top-level screen once opened, kept between visits (by pane
        id): its key brings it back as it was, so it is not composed, styled and laid
        out again each time (that was most of a key's time at fleet size)."""
        if wall is not None:
            self.use_command_palette = False

    def get_driver_class(self) -> type[Driver]:
        return driver_for(super().get_driver_class())

    # -- PaneContext -----------------------------------------------------------

    def sources(self) -> list[SourceStatus]:
        if self.rewind_at is not None:
            return expand_relayed(self._rewind_statuses, self.store)
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

    @property
    def actions(self) -> Actions:
        return self._actions

    def is_local(self, ref: str) -> bool:
        source = self.store.entity_source.get(ref) or ""
        relayed = self.store.source_meta.get(source, {}).get("relay_local")
        if isinstance(relayed, frozenset):  # this console's own collector says which
            return ref in relayed
        types = {s.name: s.type for s in self.engine.sources}
        return types.get(source) in LOCAL_SOURCE_TYPES

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
        """Show a plugin pane's top-level view, at the top level (``Overview › GPUs``)
        however deep the user was: pane keys never grow the trail."""
        home = next((s for s in self.screen_stack if isinstance(s, ViewScreen)), None)
        popped = []
        while home is not None and self.screen is not home and len(self.screen_stack) > 1:
            popped.append(self.screen)
            self.pop_screen()
        kept = self.pane_screens.get(pane.id)
        if kept is not None and kept.pane.failure:  # a failed pane is built anew: a retry
            del self.pane_screens[pane.id]
            self.uninstall_screen(kept)
            if kept not in popped:  # (one popped now is removed by its pop, uninstalled)
                kept.remove()
        self.push_screen(self._kept_screen(pane))

    def _kept_screen(self, pane: Pane) -> ViewScreen:
        kept = self.pane_screens.get(pane.id)
        if kept is None:
            kept = self.pane_screens[pane.id] = self._pane_screen(pane, None, pane.title)
            self.install_screen(kept, name=f"pane:{pane.id}")  # popping it keeps it
        return kept

    def prepare_panes(self) -> None:
        """Build the screens of watchfloor's keyed panes not opened yet, off screen, so
        that a key's first press brings its screen back too (at 1,000 nodes composing
        one took most of that key's 0.2 to 0.3 s). Each is composed and mounted in steps
        of the event loop, so a key pressed meanwhile is answered between two of them.
        They are built before the first data if input is quiet then: with a 4,000-node
        store, each one's first refresh and layout was a step of up to half a second, and
        a key pressed in the seconds after the first frame waited for it.
        Another distribution's pane is built when opened: its cost (or failure) is not
        met unasked."""
        if self.wall is not None:
            return
        shipped = {r.name for r in self.registry.records if r.distribution == "watchfloor"}
        for pane in self.registry.panes:
            plugin = self.registry.plugin_of(pane.id)
            if pane.key and plugin in shipped and pane.id not in self.pane_screens:
                self._get_screen(self._kept_screen(pane))  # composed and mounted; not shown

    def prepare_rewind(self) -> None:
        """Have the rewind's reader make ahead, in its thread, what a session's first
        seek makes (``RewindReader.prepare``): the first rewind key then costs what any
        does. Asked again at each quiet tick until the recording is long enough. Not
        on a wall (it never rewinds) nor in a replay (its first seek is at once)."""
        if self.recording is None or self.replay is not None or self.wall is not None:
            return
        if self._rewind_preparing:
            return
        if self._recorded_since is None:  # this session's seconds count, from its data on
            if self.store.time is None:
                return
            self._recorded_since = self.store.time
        self._rewind_preparing = True
        if self._reader is None:
            self._reader = RewindReader(self.recording)
        self.run_worker(self._prepare_rewind(self._reader, self._recorded_since),
                        group="rewind-prepare", exit_on_error=False)  # fmt: skip

    async def _prepare_rewind(self, reader: RewindReader, since: float) -> None:
        # On an error it is not asked again (a damaged file each second): a seek says
        # what is wrong.
        with contextlib.suppress(RecordingError, OSError, sqlite3.Error):
            self._rewind_preparing = await asyncio.to_thread(reader.prepare, since)

    def _push_pane(self, pane: Pane, ref: str | None, crumb: str) -> None:
        self.push_screen(self._pane_screen(pane, ref, crumb))

    def _pane_screen(self, pane: Pane, ref: str | None, crumb: str) -> ViewScreen:
        plugin = self.registry.plugin_of(pane.id)
        return ViewScreen(make_pane(self, pane, ref), crumb=crumb, view=pane.id, plugin=plugin)

    def open_sources_view(self) -> None:
        """Every source with its status and reason (``S``, or a click on the header's count)."""
        if isinstance(self.screen, ViewScreen) and isinstance(self.screen.pane, SourcesPane):
            return
        self.push_screen(ViewScreen(SourcesPane(self), crumb="Sources", view="sources"))

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

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            INPUT_GATE.touch()  # merging the collector's news waits: the key goes first
            self._gc_pauses.hold()  # and so does the garbage collector
            await super().on_event(event)
            # Merging resumes only once what the key asked for is drawn (a pane pushed
            # now is the screen whose refresh this waits for).
            self.call_after_refresh(self._key_drawn)
            return
        await super().on_event(event)

    def _key_drawn(self) -> None:
        INPUT_GATE.drawn()
        self._gc_pauses.release()

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
                    title = plain(pane.title, 40)  # a plugin's words, in the footer
                    self.bind(pane.key, f"open_pane('{pane.id}')", description=title)
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
        if self.replay is not None:
            start, speed = self.replay
            self.seek(start)
            if speed > 0:
                self.set_interval(1.0, lambda: self._play(speed))
            return
        if self.live:
            self._gc_pauses.start()
            self.engine.after_analysis = self._first_data
            self.engine.start()
            self.set_interval(self.refresh_interval, self._tick)
            if PAGER.enabled:
                # The pager's view (paged? silenced?) is read by a worker, never by a redraw.
                self._read_pager()
                self.set_interval(PAGER_REFRESH, self._read_pager)
        else:
            await self.engine.collect(self.warm_cycles)
            self._redraw_screen()

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
        self._gc_pauses.tick()
        if INPUT_GATE.is_open():  # else a key is being answered: catch up at the next tick
            self._gc_pauses.release()  # (a key whose drawing was never reported)
            self._redraw_screen()
        if INPUT_GATE.quiet_for(PREPARE_QUIET):
            self.prepare_panes()
            self.prepare_rewind()

    def _redraw_screen(self) -> None:
        screen = self.screen
        if isinstance(screen, ViewScreen | WallScreen):
            screen.redraw()

    def action_wall_pane(self, pane_id: str) -> None:
        screen = self.screen
        if isinstance(screen, WallScreen):
            screen.jump(pane_id)

    def action_open_pane(self, pane_id: str) -> None:
        pane = self.registry.pane(pane_id)
        if pane is not None:
            self.open_pane(pane)

    def action_sources(self) -> None:
        self.open_sources_view()

    def action_help(self) -> None:
        keys = list(KEYS_HELP) + (rewind_keys() if self.recording is not None else [])
        keys += [(p.key, f"{p.title} pane") for p in self.registry.panes if p.key]
        self.push_screen(HelpScreen(keys))

    async def on_unmount(self) -> None:
        self._gc_pauses.stop()
        await self.engine.stop()
        for source in self.past_sources:
            if source not in self.engine.sources:  # made for rewind alone (a collector's)
                await source.close()
        if self._reader is not None:
            await asyncio.to_thread(self._reader.close)

    # -- rewind ------------------------------------------------------------------

    def rewind_banner(self) -> Text | None:
        """``REWIND 03:12:40 (8 min ago)`` while rewinding, else ``None``."""
        if self.rewind_at is None:
            return None
        return banner(self.rewind_at, self._reference(), self.rewind_origin)

    def _reference(self) -> float | None:
        """Now, as the recording counts it: the live store's time, or a replay's end."""
        if self.replay is None and self.live_store.time is not None:
            return self.live_store.time
        return self._span[1] if self._span is not None else None

    def _reader_or_say(self) -> RewindReader | None:
        if self.recording is None:
            self.notify("no recording to rewind (started with --no-record?)",
                        severity="warning", markup=False)  # fmt: skip
            return None
        if self._reader is None:
            self._reader = RewindReader(self.recording)
        return self._reader

    def seek(self, when: float) -> None:
        """Show the fleet at ``when`` (read in a thread; the newest request wins)."""
        if self._reader_or_say() is None:
            return
        self.run_worker(self._seek(when), group="rewind", exclusive=True)

    async def _seek(self, when: float) -> None:
        reader = self._reader
        assert reader is not None
        try:
            self._span = await asyncio.to_thread(reader.span)
            span = self._span
            if span is None:
                raise RecordingError("the recording is empty")
            if when < span[0] and self.past_sources:
                seconds = HOUR if self.hour_sparklines else WARM_SECONDS
                moment = await past_moment(
                    self.past_sources, when, seconds, self.registry.analyzers
                )
            else:
                when = min(max(when, span[0]), span[1])
                moment = await asyncio.to_thread(
                    reader.load, when, self.hour_sparklines, self.attrs_on_screen()
                )
        except (RecordingError, OSError, sqlite3.Error) as exc:
            self.notify(f"cannot rewind: {plain(exc)}", severity="error", markup=False)
            return
        except Exception as exc:  # a damaged file must not end the console
            self.notify(f"cannot rewind: damaged recording: {type(exc).__name__}: {plain(exc)}",
                        severity="error", markup=False)  # fmt: skip
            return
        self.rewind_at = moment.time
        self.rewind_origin = moment.origin
        self._rewind_statuses = moment.statuses
        self.store = moment.store
        self._redraw(force=True)

    def attrs_on_screen(self) -> tuple[str, ...]:
        """The kinds whose every entity's attrs the view on screen reads when drawn (its
        plugin pane's :attr:`~console.api.Pane.reads`; a detail view reads its one)."""
        screen = self.screen
        if not isinstance(screen, ViewScreen) or screen.pane.ref is not None:
            return ()
        pane = self.registry.pane(screen.view)
        return pane.reads if pane is not None else ()

    def action_rewind_step(self, seconds: float) -> None:
        if self.wall is not None:
            return
        reference = self._reference()
        base = self.rewind_at if self.rewind_at is not None else reference
        if base is None:
            self.notify("nothing recorded yet", severity="warning", markup=False)
            return
        target = base + seconds
        if self.replay is None and reference is not None and target >= reference:
            self.action_live()
            return
        self.seek(target)

    def action_hour(self) -> None:
        """``H``: sparklines over the last hour, or back to the last two minutes."""
        self.hour_sparklines = not self.hour_sparklines
        span = "the last hour (a point every 150 s)" if self.hour_sparklines else "two minutes"
        self.notify(f"rewind sparklines: {span}", markup=False, timeout=3)
        if self.rewind_at is not None:
            self.seek(self.rewind_at)

    def action_live(self) -> None:
        if self.replay is not None:
            if self._span is not None:
                self.seek(self._span[1])  # a replay has no live: its end is the nearest
            return
        if self.rewind_at is None:
            return
        self.rewind_at = None
        self.rewind_origin = None
        self.store = self.live_store
        self._redraw(force=True)

    def rewind_to(self, text: str, ago: bool = False) -> None:
        """``:at 03:12`` / ``:ago 10m``."""
        reference = self._reference()
        if reference is None:
            self.notify("nothing recorded yet", severity="warning", markup=False)
            return
        try:
            self.seek(target_time(text, reference, ago))
        except ValueError as exc:
            self.notify(str(exc), severity="warning", markup=False)

    def show_incidents(self) -> None:
        """``:incidents``: the marked incidents; the chosen one opens at its start."""
        if self._reader_or_say() is not None:
            self.run_worker(self._show_incidents(), group="incidents", exclusive=True)

    async def _show_incidents(self) -> None:
        reader = self._reader
        assert reader is not None
        try:
            incidents = await asyncio.to_thread(reader.incidents)
        except (RecordingError, OSError, sqlite3.Error) as exc:
            self.notify(f"cannot read incidents: {exc}", severity="error", markup=False)
            return

        def chosen(start: float | None) -> None:
            if start is not None:
                self.seek(start)

        self.push_screen(IncidentsScreen(incidents), chosen)

    def _play(self, speed: float) -> None:
        if self.rewind_at is None or self._span is None:
            return
        if self.rewind_at < self._span[1] and not self.workers_running("rewind"):
            self.seek(self.rewind_at + speed)

    def workers_running(self, group: str) -> bool:
        """Whether a worker of this group is still at work (a seek not landed yet)."""
        return any(w.group == group and not w.is_finished for w in self.workers)

    def _redraw(self, force: bool) -> None:
        for screen in [*self.screen_stack, *self.pane_screens.values()]:
            if isinstance(screen, ViewScreen):
                screen.rendered_version = -1
        screen = self.screen
        if isinstance(screen, ViewScreen):
            screen.redraw(force=force)
        elif isinstance(screen, WallScreen):
            screen.redraw()
