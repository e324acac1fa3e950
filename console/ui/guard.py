"""Keeping a plugin's pane from taking the console down, or slowing it.

A pane is someone else's code running on the UI thread. Everything the console
calls on it goes through here: ``Pane.create`` and the pane's CSS are checked
before the pane is shown (a failure becomes a :class:`FailedPane` that says
why), and each ``refresh_view`` is timed. A pane over
:data:`~console.api.REFRESH_BUDGET` several refreshes running is *slow*: the
user is told once, the Plugins view names it, and it is refreshed less often so
that it can take at most :data:`SLOW_SHARE` of the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.css.stylesheet import Stylesheet, StylesheetParseError
from textual.widgets import Static

from console.api import REFRESH_BUDGET, Pane
from console.core.text import plain
from console.ui.kit import PaneBase, failure_line, title_bar

if TYPE_CHECKING:
    from console.ui.app import WatchfloorApp

SLOW_STREAK = 3
"""Refreshes over budget in a row before a pane counts as slow (one slow frame is noise)."""
RECOVER_STREAK = 10
"""Refreshes within budget in a row before a slow pane counts as fine again."""
SLOW_SHARE = 0.2
"""Most of the UI thread's time a slow pane may take: it waits 4× its refresh time."""


@dataclass
class PaneHealth:
    """How one pane has been doing: refresh times, slowness, failure."""

    pane: str
    """Pane id (a plugin's) or view name (the console's own)."""
    plugin: str | None
    """The plugin that provides it; ``None`` for the console's own views."""
    refreshes: int = 0
    last: float = 0.0
    """Seconds the last ``refresh_view`` took."""
    worst: float = 0.0
    """Longest ``refresh_view`` seen, in seconds."""
    slow: bool = False
    """Over budget lately: refreshed less often."""
    skipped: int = 0
    """Refreshes skipped while slow."""
    failure: str = ""
    """Why it failed ('' while it works)."""
    _over: int = 0
    _under: int = 0
    _next_allowed: float = 0.0

    def may_refresh(self, now: float) -> bool:
        """Whether to refresh at ``now`` (a monotonic time); counts a skip when not."""
        if now >= self._next_allowed:
            return True
        self.skipped += 1
        return False

    def record(self, started: float, elapsed: float, counted: bool = True) -> bool:
        """Note one refresh; True when this one made the pane *slow* (tell the user).

        ``counted`` is False for the first draw of a view (filling empty tables
        costs more than keeping them), which never decides slowness.
        """
        self.refreshes += 1
        self.failure = ""
        self.last = elapsed
        self.worst = max(self.worst, elapsed)
        if not counted:
            return False
        became_slow = False
        if elapsed > REFRESH_BUDGET:
            self._over, self._under = self._over + 1, 0
            if not self.slow and self._over >= SLOW_STREAK:
                self.slow = became_slow = True
        else:
            self._over, self._under = 0, self._under + 1
            if self.slow and self._under >= RECOVER_STREAK:
                self.slow = False
        self._next_allowed = started + elapsed / SLOW_SHARE if self.slow else 0.0
        return became_slow

    def summary(self) -> str:
        """One line for the Plugins view."""
        if self.failure:
            return f"failed: {self.failure}"
        if not self.refreshes:
            return "not shown yet"
        text = f"refresh {self.last * 1000:.0f} ms (worst {self.worst * 1000:.0f} ms)"
        if self.slow:
            text += f", over the {REFRESH_BUDGET * 1000:.0f} ms budget: refreshed less often"
        return text


class FailedPane(PaneBase):
    """Stands in for a pane that could not be made or that stopped working."""

    DEFAULT_CSS = """
    FailedPane > #failure { padding: 1 2; height: auto; }
    """

    def __init__(self, context: Any, ref: str | None, title: str, reason: str) -> None:
        super().__init__(context, ref)
        self.title = title
        """What the user asked for."""
        self.failure = reason

    def compose(self) -> ComposeResult:
        yield title_bar(self.title)
        yield Static(failure_text(self.title, self.failure), id="failure")


def failure_text(title: str, reason: str) -> Text:
    """What a failed pane shows: what failed, why, and that the rest goes on."""
    text = Text()
    text.append(f"✖ {plain(title)} failed\n\n", style="bold")
    text.append(plain(reason, 400) + "\n\n")
    text.append(
        "The rest of the console goes on. Esc goes back; ': plugins' shows every plugin's health.",
        style="dim",
    )
    return text


_css_checked: dict[type, str | None] = {}


def css_problem(app: WatchfloorApp, widget: Any) -> str | None:
    """Why the CSS of a plugin widget's classes would not load (an undeclared
    ``$variable``, a typo), or ``None``. Textual would end the app on it."""
    cls = type(widget)
    if cls in _css_checked:
        return _css_checked[cls]
    own = [c for c in cls.__mro__ if not c.__module__.startswith(("textual.", "console."))]
    sheet = Stylesheet(variables=app.get_css_variables())
    for owner in own:
        css = owner.__dict__.get("DEFAULT_CSS")
        if css:
            sheet.add_source(css, read_from=(owner.__module__, owner.__name__))
    problem: str | None = None
    try:
        sheet.parse()
    except StylesheetParseError as exc:
        problem = f"invalid CSS: {_first_css_error(exc)}"
    except Exception as exc:  # UnresolvedVariableError and friends
        problem = f"invalid CSS: {exc}"
    if problem is not None and "$" in problem:
        problem += " (a plugin declares its variables in Plugin.theme_variables)"
    _css_checked[cls] = problem
    return problem


def _first_css_error(exc: StylesheetParseError) -> str:
    for rule in getattr(exc.errors, "rules", []):
        for token, message in rule.errors:
            where, name = token.read_from
            line = token.location[0] + 1
            summary = message if isinstance(message, str) else getattr(message, "summary", "")
            return f"{name or where} line {line}: {summary or message}"
    return str(exc)


def make_pane(app: WatchfloorApp, pane: Pane, ref: str | None) -> PaneBase:
    """The pane's widget for ``ref`` (``None``: its top-level view), or a
    :class:`FailedPane` saying why it cannot be shown."""
    title = f"{pane.title} ({ref})" if ref else pane.title
    try:
        widget = pane.create(app, ref)
    except Exception as exc:
        return FailedPane(app, ref, title, failure_line(f"pane {pane.id!r}: create", exc))
    if not isinstance(widget, PaneBase):
        reason = (
            f"pane {pane.id!r}: create returned {type(widget).__name__}, not a console.api.PaneBase"
        )
        return FailedPane(app, ref, title, reason)
    problem = css_problem(app, widget)
    if problem is not None:
        return FailedPane(app, ref, title, f"pane {pane.id!r}: {problem}")
    return widget
