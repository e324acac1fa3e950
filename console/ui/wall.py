"""Wall mode: big status tiles, a rotating pane, and the newest findings, for a NOC screen.

Nobody sits at a wall, so nothing here waits for a key: no prompts, no cursor,
no modal. Every widget is made once and updated in place on the refresh tick
(the rotation only switches which pane is displayed), so a wall that runs for
days keeps the same widget tree and a flat memory.
"""

from __future__ import annotations

import time as _time
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.renderables.digits import Digits as DigitsRenderable
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Digits, Static

from console.analysis.fleet_health import Figure, FleetHealth, LostSource, fleet_health
from console.api import SourceStatus
from console.core.config import WallConfig
from console.core.model import Finding
from console.core.text import plain
from console.ui.chrome import LIVE_AGE
from console.ui.kit import EntityTable, PaneBase, finding_title, fmt_age, role_style, same_text
from console.ui.overview import OverviewPane
from console.ui.wall_rules import OVERVIEW, Rotation, WallView, default_panes, pane_names

if TYPE_CHECKING:
    from console.ui.app import WatchfloorApp

STATE_ROLE = {"ok": "ok", "info": "primary", "warning": "warning", "critical": "error"}
"""Theme variable that colours each state."""
STATE_WORD = {"ok": "● OK", "info": "● INFO", "warning": "▲ WARN", "critical": "✖ CRIT"}
"""Each state by symbol and word, so colour is never the only signal."""
COMPACT_BELOW = (120, 36)
"""Below this width or height the tiles are text, not big digits."""
HUGE_FROM = (240, 70)
"""From this size on (a 4K wall) the tiles and the ribbon grow."""


def state_text(widget: Widget, state: str) -> Text:
    """``✖ CRIT`` as a bold badge in the state's colour."""
    style = role_style(widget, STATE_ROLE.get(state, "foreground"), bold=True) + Style(reverse=True)
    text = Text()
    text.append(f" {STATE_WORD.get(state, state.upper())} ", style=style)
    return text


class Tile(Vertical):
    """One figure: a label, the number in big digits (or text when small), its state."""

    DEFAULT_CSS = """
    Tile { width: 1fr; height: auto; border: tall $panel; padding: 0 1; background: $surface; }
    Tile.-warning { border: tall $warning; }
    Tile.-critical { border: tall $error; }
    Tile > .tile-label { height: 1; text-style: bold; color: $foreground; }
    Tile > Digits { text-style: bold; color: $foreground; }
    Tile > .tile-value { height: 1; text-style: bold; display: none; }
    Tile > .tile-state { height: 1; }
    Tile.-text > Digits { display: none; }
    Tile.-text > .tile-value { display: block; }
    """

    def __init__(self, tile_id: str) -> None:
        super().__init__(id=f"tile-{tile_id}")
        self.figure: Figure | None = None
        """What it shows now."""
        self._compact = False
        self._texts: dict[str, Text] = {}

    def compose(self) -> ComposeResult:
        yield Static(classes="tile-label")
        yield Digits("")
        yield Static(classes="tile-value")
        yield Static(classes="tile-state")

    def show(self, figure: Figure, compact: bool) -> None:
        """Update in place (only what changed is repainted)."""
        if figure == self.figure and compact == self._compact:
            return
        self.figure, self._compact = figure, compact
        self._set("tile-label", Text(figure.label))
        digits = self.query_one(Digits)
        if digits.value != figure.value:
            digits.update(figure.value)
        value = Text(figure.value, style="bold")
        value.append(f" {figure.unit}" if figure.unit else "", style="")
        self._set("tile-value", value)
        state = state_text(self, figure.state)
        words = [figure.detail] if compact else [figure.unit, figure.detail]
        state.append(" " + " · ".join(word for word in words if word))
        self._set("tile-state", state)
        for name in ("ok", "info", "warning", "critical"):
            self.set_class(figure.state == name, f"-{name}")
        self._fit()

    def _set(self, part: str, text: Text) -> None:
        # Only what changed is sent: the power figure moves every second, its label never.
        if not same_text(self._texts.get(part), text):
            self._texts[part] = text
            self.query_one(f".{part}", Static).update(text)

    def _fit(self) -> None:
        # Big digits only where they fit; a long number falls back to text, never cut.
        width = self.content_size.width
        value = self.figure.value if self.figure else ""
        too_wide = width > 0 and DigitsRenderable.get_width(value) > width
        self.set_class(self._compact or too_wide, "-text")

    def on_resize(self, event: events.Resize) -> None:
        self._fit()


class WallHeader(Static):
    """One line: the title, how old the data is, and the time (to the minute)."""

    DEFAULT_CSS = """
    WallHeader { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    """

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title
        """Shown first (``watchfloor demo``)."""
        self._shown = Text()

    def show(self, statuses: list[SourceStatus], now: float) -> None:
        """Recompute the line; repaint only when it changed."""
        last = max((s.last_ok for s in statuses if s.last_ok is not None), default=None)
        age = None if last is None else now - last
        right = Text()
        if age is None:
            right.append("◌ no data yet", style=role_style(self, "stale", bold=True))
        elif age < LIVE_AGE:
            right.append("● data live", style=role_style(self, "ok", bold=True))
        else:
            right.append(f"◌ data {fmt_age(age)} old", style=role_style(self, "stale", bold=True))
        right.append("   " + _time.strftime("%H:%M", _time.localtime(now)), style="bold")
        line = Text(f"◆ {self.title}", style="bold", no_wrap=True, overflow="ellipsis")
        gap = self.content_size.width - line.cell_len - right.cell_len
        line.append(" " * max(2, gap))
        line.append_text(right)
        if line != self._shown:
            self._shown = line
            self.update(line, layout=False)


class WallScreen(Screen[None]):
    """The whole wall: header, tiles, the held alert, the rotating pane, the ribbon."""

    DEFAULT_CSS = """
    WallScreen { background: $background; layout: vertical; }
    WallScreen #tiles { height: auto; }
    WallScreen #alert {
        display: none; height: auto; border: heavy $error; padding: 0 1;
        background: $surface; color: $foreground;
    }
    WallScreen #alert.-shown { display: block; }
    WallScreen #pane-bar { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    WallScreen #panes { height: 1fr; }
    WallScreen #ribbon { height: 6; border: round $panel; padding: 0 1; }
    WallScreen #lost { display: none; height: auto; padding: 0 1; background: $surface; }
    WallScreen #lost.-shown { display: block; }
    WallScreen EntityTable > .entity-table--cursor { background: $surface; }
    WallScreen.-compact Tile { border: none; padding: 0 1 0 0; background: $background; }
    WallScreen.-compact #ribbon { height: 1; border: none; padding: 0 1; }
    WallScreen.-compact #alert { border: none; height: 1; padding: 0 1; }
    WallScreen.-huge Tile { padding: 1 2; }
    WallScreen.-huge #ribbon { height: 12; }
    WallScreen.-huge #pane-bar { text-style: bold; }
    """

    def __init__(self, options: WallConfig, panes: list[tuple[str, str, PaneBase]]) -> None:
        """``panes``: ``(id, title, widget)`` in rotation order."""
        super().__init__()
        self.options = options
        """Dwell and hold."""
        self.panes = panes
        """The rotated panes, made once."""
        self.rotation = Rotation([p[0] for p in panes], options.dwell, options.hold)
        """Which pane, and whether a new critical holds it."""
        self.view: WallView | None = None
        """What was shown on the last tick."""
        self.health: FleetHealth | None = None
        """The figures on the last tick."""
        self._shown: dict[str, Text] = {}
        self._versions: dict[str, int] = {}

    @property
    def watchfloor(self) -> WatchfloorApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield WallHeader(self.watchfloor.title)
        with Horizontal(id="tiles"):
            for tile_id in ("gpus", "stalled", "links", "power", "cost", "security", "sources"):
                yield Tile(tile_id)
        yield Static(id="alert")
        yield Static(id="pane-bar")
        with ContentSwitcher(id="panes", initial=f"wall-{self.panes[0][0]}"):
            for pane_id, _title, widget in self.panes:
                widget.id = f"wall-{pane_id}"
                yield widget
        with Vertical(id="ribbon") as ribbon:
            ribbon.border_title = "Newest findings"
            yield Static(id="ribbon-text")
        yield Static(id="lost")

    def on_mount(self) -> None:
        # No cursor anywhere: nothing on a wall takes the focus.
        for table in self.query(EntityTable):
            table.can_focus = False
        self._apply_size(self.app.size.width, self.app.size.height)
        self.redraw(force=True)

    def on_resize(self, event: events.Resize) -> None:
        self._apply_size(event.size.width, event.size.height)

    def _apply_size(self, width: int, height: int) -> None:
        compact = width < COMPACT_BELOW[0] or height < COMPACT_BELOW[1]
        self.set_class(compact, "-compact")
        self.set_class(width >= HUGE_FROM[0] and height >= HUGE_FROM[1], "-huge")
        if self.health is not None:
            self._show_tiles(self.health)

    @property
    def compact(self) -> bool:
        """Whether the tiles are text (a small terminal)."""
        return self.has_class("-compact")

    def jump(self, pane_id: str) -> None:
        """Show this pane now (a pane key pressed at the wall)."""
        if self.rotation.jump(pane_id, self.watchfloor.now()):
            self.redraw(force=True)

    # -- the refresh tick ------------------------------------------------------

    def redraw(self, force: bool = False) -> None:
        """Recompute figures, rotation and ribbon; repaint only what changed."""
        app = self.watchfloor
        store = app.store
        now = app.now()
        statuses = app.sources()
        self.query_one(WallHeader).show(statuses, now)
        self.health = fleet_health(store, statuses, app.cost, now, app.refresh_interval)
        self._show_tiles(self.health)
        view = self.rotation.update(now, store.findings, store.time)
        switcher = self.query_one(ContentSwitcher)
        target = f"wall-{view.pane}"
        switched = switcher.current != target
        if switched:
            switcher.current = target
        self.view = view
        self._show_alert(view)
        self._show_bar(view)
        pane = self._pane(view.pane)
        if pane is not None and (force or switched or self._moved(view.pane)):
            try:
                pane.refresh_view()
            except Exception as exc:  # a failing pane says so; the wall goes on
                self._set("pane-bar", Text(plain(f"pane {view.pane} failed: {exc}")))
            self._versions[view.pane] = store.version
        self._show_ribbon(self.rotation.newest(store.findings))
        self._show_lost(self.health.lost)

    def _pane(self, pane_id: str) -> PaneBase | None:
        return next((w for p, _t, w in self.panes if p == pane_id), None)

    def _moved(self, pane_id: str) -> bool:
        return self._versions.get(pane_id) != self.watchfloor.store.version

    def _set(self, widget_id: str, text: Text) -> None:
        # Setting a Static, even to the same text, repaints it: bytes on every tick.
        if not same_text(self._shown.get(widget_id), text):  # (style too: not Rich's ==)
            self._shown[widget_id] = text
            self.query_one(f"#{widget_id}", Static).update(text)

    def _show_tiles(self, health: FleetHealth) -> None:
        compact = self.compact
        for tile_id, figure in health.figures():
            self.query_one(f"#tile-{tile_id}", Tile).show(figure, compact)

    def _show_alert(self, view: WallView) -> None:
        alert = self.query_one("#alert", Static)
        finding = view.alert
        alert.set_class(finding is not None, "-shown")
        if finding is None:
            return
        text = state_text(self, "critical")
        text.append("  NEW  ", style="bold")
        text.append(plain(finding.title, 160), style="bold")
        text.append(f"   {plain(finding.ref, 120)}")
        if view.alerts > 1:
            text.append(f"   (+{view.alerts - 1} more new)", style="bold")
        if not self.compact:
            for line in finding.evidence[:2]:
                text.append("\n  " + plain(line, 200))
        self._set("alert", text)

    def _show_bar(self, view: WallView) -> None:
        titles = {p: t for p, t, _w in self.panes}
        text = Text()
        text.append(f"▶ {titles.get(view.pane, view.pane)}", style="bold")
        text.append(f"   {view.index + 1}/{len(self.panes)}")
        if view.alert is not None:
            text.append("   ■ rotation held for a new critical finding: ", style="bold")
            text.append(f"{_clock(view.hold_left)} left")
        elif len(self.panes) > 1:
            after = titles.get(self.panes[(view.index + 1) % len(self.panes)][0], "")
            text.append(f"   next: {after} in {_clock(view.next_in)}")
        self._set("pane-bar", text)

    def _show_ribbon(self, findings: list[Finding]) -> None:
        rows = 1 if self.compact else max(1, self.query_one("#ribbon").content_size.height or 4)
        text = Text(no_wrap=True, overflow="ellipsis")
        if not findings and self.watchfloor.store.findings_pending:
            text.append("○ findings pending", style="dim")
        elif not findings:
            text.append("● no findings", style=role_style(self, "ok", bold=True))
        for index, finding in enumerate(findings[:rows]):
            if index:
                text.append("\n")
            text.append_text(state_text(self, finding.severity))
            seen = self.rotation.first_seen.get((finding.ref, finding.kind))
            age = None if seen is None else self.watchfloor.now() - seen
            text.append(f" {_age(age):>6}  ")
            title = finding_title(self, finding, limit=120)
            title.stylize("bold")
            text.append_text(title)
            text.append(f"  {plain(finding.ref, 80)}", style="dim")
        self._set("ribbon-text", text)

    def _show_lost(self, lost: list[LostSource]) -> None:
        widget = self.query_one("#lost", Static)
        widget.set_class(bool(lost), "-shown")
        if not lost:
            return
        text = Text()
        for index, source in enumerate(lost[:6]):
            text.append("  " if index else "")
            role = "failed" if source.status == "failed" else "stale"
            word = "✖ LOST" if source.status == "failed" else "◌ STALE"
            text.append(f"{word} ", style=role_style(self, role, bold=True))
            text.append(plain(source.name, 48), style="bold")
            since = f", last data {fmt_age(source.age)} ago" if source.age is not None else ""
            text.append(f" ({plain(source.reason, 80)}{since}; retrying)")
        if len(lost) > 6:
            text.append(f"  +{len(lost) - 6} more")
        self._set("lost", text)


class BrokenPane(PaneBase):
    """Stands in for a plugin pane that failed to build: the wall says so and goes on."""

    def __init__(self, context: WatchfloorApp, reason: str) -> None:
        super().__init__(context)
        self.reason = reason

    def compose(self) -> ComposeResult:
        yield Static(Text(plain(self.reason)), classes="pane-body")


def make_panes(app: WatchfloorApp, names: tuple[str, ...]) -> list[tuple[str, str, PaneBase]]:
    """The rotated panes, each made once: ``(id, title, widget)``."""
    ids = pane_names(app.registry)
    made: list[tuple[str, str, PaneBase]] = []
    for name in names or default_panes(app.registry):
        pane_id = ids.get(name, name)
        if any(p == pane_id for p, _t, _w in made):
            continue
        if pane_id == OVERVIEW:
            made.append((OVERVIEW, "Overview", OverviewPane(app)))
            continue
        pane = app.registry.pane(pane_id)
        if pane is None:
            made.append((pane_id, pane_id, BrokenPane(app, f"no pane called {name!r}")))
            continue
        try:
            widget = pane.create(app, None)
            if not isinstance(widget, PaneBase):
                raise TypeError(f"pane {pane.id} made a {type(widget).__name__}, not a pane")
        except Exception as exc:
            widget = BrokenPane(app, f"pane {pane.id} failed: {type(exc).__name__}: {exc}")
        made.append((pane.id, pane.title, widget))
    return made


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _age(seconds: float | None) -> str:
    return "" if seconds is None else ("new" if seconds < 1 else fmt_age(seconds))


__all__ = ["Tile", "WallScreen", "make_panes"]
