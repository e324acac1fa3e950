"""The parts around every screen: the status header, the breadcrumbs, and the
banner above a plugin's pane when its sources are in trouble."""

from __future__ import annotations

import time as _time

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from console.api import PaneContext, SourceStatus
from console.core.text import plain
from console.ui.kit import fmt_age, role_style

LIVE_AGE = 5.0
"""Data younger than this (seconds) is shown as ``live`` rather than a ticking age."""


class StatusHeader(Static):
    """One line: fleet size, open findings, source health, data age, clock."""

    DEFAULT_CSS = """
    StatusHeader { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    StatusHeader.-rewind { background: $rewind; color: $background; }
    """

    def __init__(self, context: PaneContext, title: str) -> None:
        super().__init__()
        self.context = context
        """Where the figures come from."""
        self.title = title
        """Shown first (``watchfloor demo``)."""
        self._shown = Text()

    def update_status(self) -> None:
        """Recompute the line from the store and the source statuses."""
        store = self.context.store
        now = self.context.now()
        line = Text()
        rewind = getattr(self.context, "rewind_banner", lambda: None)()
        self.set_class(rewind is not None, "-rewind")
        if rewind is not None:
            line.append_text(rewind)
        line.append(f"◆ {self.title}", style="bold")
        title_end = len(line)
        critical = sum(1 for f in store.findings if f.severity == "critical")
        warning = sum(1 for f in store.findings if f.severity == "warning")
        line.append("  ")
        line.append(f"✖{critical}", style=role_style(self, "error", bold=bool(critical)))
        line.append(" ")
        line.append(f"▲{warning}", style=role_style(self, "warning"))
        statuses = self.context.sources()
        # A source disabled with a reason (no NVML here) is not a fault to flag.
        active = [s for s in statuses if s.status != "disabled"]
        healthy = sum(1 for s in active if s.status == "ok")
        bad = [s for s in active if s.status in ("failed", "stale")]
        line.append("  src ")
        line.append(
            f"{healthy}/{len(active)} ok",
            style=role_style(self, "failed" if bad else "ok"),
        )
        last = max((s.last_ok for s in statuses if s.last_ok is not None), default=None)
        age = None if last is None else now - last
        line.append("  data ")
        if rewind is not None:
            line.append("recorded")
        elif age is None and any(s.status == "pending" for s in active):
            # The first cycle of a large fleet takes a while: say so, and for how long.
            started = getattr(self.context, "started_at", None)
            waited = "" if started is None else f" {fmt_age(now - started)}"
            line.append(f"first cycle{waited}", style=role_style(self, "stale"))
        elif age is None:
            line.append("none yet", style=role_style(self, "stale"))
        elif age < LIVE_AGE:
            line.append("live", style=role_style(self, "ok"))
        else:
            line.append(f"{fmt_age(age)} old", style=role_style(self, "stale"))
        # Minutes, not seconds: a clock ticking every second would redraw the
        # header on every refresh for nothing (bytes matter on a slow SSH link).
        line = self._fitted(line, title_end, _time.strftime("%H:%M", _time.localtime(now)))
        if line != self._shown:
            self._shown = line
            self.update(line, layout=False)

    def _fitted(self, line: Text, title_end: int, clock: str) -> Text:
        """The line with the fleet's counts after the title and the clock at the end;
        where the width is short (80 columns), only the node count and no clock, so the
        sources' and the data's state stay in view (they say what the console waits for)."""
        store = self.context.store
        nodes = f"  nodes {store.count('node')}"
        counts = f"{nodes}  GPUs {store.count('gpu')}  jobs {store.count('job')}"
        width = self.content_region.width
        for middle, end in ((counts, f"  {clock}"), (nodes, f"  {clock}"), (nodes, "")):
            fitted = line[:title_end] + Text(middle) + line[title_end:] + Text(end)
            if not width or fitted.cell_len <= width:
                break
        return fitted

    def on_click(self) -> None:
        # The source count stands for the Sources panel a narrow overview folds away.
        open_sources = getattr(self.app, "open_sources_view", None)
        if open_sources is not None and getattr(self.app, "wall", None) is None:
            open_sources()


CRUMB_SEPARATOR = " › "
ELIDED = "…"


def fit_crumbs(crumbs: list[str], width: int) -> list[str]:
    """The crumbs to show in ``width`` cells: all when they fit; else the first, an
    ellipsis for the middle, and as many of the newest as fit; the newest shortened
    in its middle when even that is too long. Never wider than ``width``."""
    crumbs = [plain(crumb, 80) for crumb in crumbs]  # refs can carry hostnames
    sep = len(CRUMB_SEPARATOR)

    def length(parts: list[str]) -> int:
        return sum(len(part) for part in parts) + sep * max(0, len(parts) - 1)

    if not crumbs or width <= 0:
        return []
    if length(crumbs) <= width:
        return crumbs
    if len(crumbs) == 1:
        return [_middle(crumbs[0], width)]
    head, tail = crumbs[0], [crumbs[-1]]
    for crumb in reversed(crumbs[1:-1]):
        if length([head, ELIDED, crumb, *tail]) > width:
            break
        tail.insert(0, crumb)
    shown = [head, ELIDED, *tail]
    if length(shown) <= width:
        return shown
    room = width - length([head, ELIDED]) - sep  # the newest alone is too long
    if room >= 8:
        return [head, ELIDED, _middle(crumbs[-1], room)]
    return [_middle(crumbs[-1], width)]


def _middle(text: str, width: int) -> str:
    """``link/leaf01/p4~spine02/p1`` in ``width`` cells: ``link/lea…ine02/p1``."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELIDED[:width]
    keep = width - 1
    return text[: keep // 2] + ELIDED + text[len(text) - (keep - keep // 2) :]


class Breadcrumbs(Static):
    """Where the user is: ``Overview › job/4711 › link/…``. Always visible, always one
    line: when the path is wider than the screen its middle is elided."""

    DEFAULT_CSS = """
    Breadcrumbs { height: 1; padding: 0 1; color: $text-muted; background: $surface;
                  overflow: hidden; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown = Text()
        self._crumbs: list[str] = []

    def show(self, crumbs: list[str]) -> None:
        """Show this path, newest last (the middle is elided when it is too long)."""
        self._crumbs = list(crumbs)
        width = self.content_size.width or max(1, self.app.size.width - 2)
        parts = fit_crumbs(crumbs, width)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, crumb in enumerate(parts):
            if index:
                text.append(CRUMB_SEPARATOR, style="dim")
            last = index == len(parts) - 1
            text.append(crumb, style="bold" if last else ("dim" if crumb == ELIDED else ""))
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)

    def on_resize(self) -> None:
        if self._crumbs:
            self.show(self._crumbs)


BANNER_SOURCES = 2
"""Failing sources named in a banner; the rest are counted."""


class PluginBanner(Static):
    """Above a plugin's pane: why its data may be missing or old (its sources failing,
    none configured). Hidden while all is well."""

    DEFAULT_CSS = """
    PluginBanner { height: auto; max-height: 3; padding: 0 1; background: $surface; display: none; }
    PluginBanner.-shown { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: Text | None = None

    def show(self, line: Text | None) -> None:
        """Show this line, or hide the banner with ``None``."""
        if line == self._shown:
            return
        self._shown = line
        self.set_class(line is not None, "-shown")
        if line is not None:
            self.update(line)


def plugin_health_line(
    widget: Widget, statuses: list[SourceStatus], types: set[str], kinds: set[str], count: int
) -> Text | None:
    """What is wrong with a plugin's data, in one line, or ``None``.

    Args:
        statuses: Every source's health.
        types: The source types the plugin provides.
        kinds: The entity kinds it declared.
        count: How many entities of those kinds the store holds.
    """
    mine = [s for s in statuses if s.type in types]
    bad = [s for s in mine if s.status in ("failed", "stale")]
    if bad:
        line = Text()
        for index, status in enumerate(bad[:BANNER_SOURCES]):
            if index:
                line.append("   ")
            role = "failed" if status.status == "failed" else "stale"
            line.append(f"✖ source {plain(status.name, 40)} {status.status}: ",
                        style=role_style(widget, role, bold=True))  # fmt: skip
            line.append(plain(status.reason, 160))
        if len(bad) > BANNER_SOURCES:
            line.append(f"   and {len(bad) - BANNER_SOURCES} more (see Overview › Sources)")
        return line
    if types and kinds and not mine and count == 0:
        example = sorted(types)[0]
        return Text(
            f"No {', '.join(sorted(types))} source is configured: add `- type: {example}` "
            "under sources: in the config file (see the plugin's README).",
            style=role_style(widget, "stale"),
        )
    return None
