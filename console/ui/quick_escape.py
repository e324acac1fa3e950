"""Esc answered in tens of milliseconds, not a tenth of a second.

A lone Esc byte may be the start of an escape sequence (an arrow key), so the terminal
driver waits a moment for more before it calls it the Esc key. Textual waits 100 ms,
and its input loop looks at that deadline only when its ``select`` times out, every
100 ms: each Esc took about 100 ms before the console saw it (most of the time Esc took
to go back to the overview). Here the wait is :data:`ESCAPE_DELAY_MS` and the loop
wakes often enough to keep it. A terminal (and ssh) sends a key's sequence in one write,
so its bytes arrive together; ``ESCDELAY`` (milliseconds, as for ncurses) overrides.
"""

from __future__ import annotations

import os
import selectors
from types import SimpleNamespace

from textual import constants
from textual.driver import Driver

ESCAPE_DELAY_MS = 40
"""How long a lone Esc waits for the rest of a sequence (Textual: 100)."""
POLL = 0.01
"""Seconds the input loop waits for input before it looks at the Esc deadline again."""


def quick_escape() -> None:
    """Use :data:`ESCAPE_DELAY_MS` unless the user's ``ESCDELAY`` says otherwise."""
    if "ESCDELAY" not in os.environ:
        constants.ESCAPE_DELAY = ESCAPE_DELAY_MS / 1000  # type: ignore[misc]  # read at each Esc


class QuickSelector(selectors.SelectSelector):
    """A selector whose waits last :data:`POLL` at most."""

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        return super().select(POLL if timeout is None else min(timeout, POLL))


def driver_for(chosen: type[Driver]) -> type[Driver]:
    """Textual's Linux terminal driver with an input loop that waits :data:`POLL` at most
    (its only selector is the one it makes for that loop); any other driver as it is."""
    try:
        from textual.drivers import linux_driver
    except ImportError:  # no termios: not Linux
        return chosen
    if chosen is not linux_driver.LinuxDriver:
        return chosen
    linux_driver.selectors = SimpleNamespace(  # type: ignore[assignment]
        SelectSelector=QuickSelector, EVENT_READ=selectors.EVENT_READ
    )
    return chosen
