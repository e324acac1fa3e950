"""Esc answered in tens of milliseconds, not a tenth of a second.

A lone Esc byte may be the start of an escape sequence (an arrow key), so the terminal
driver waits a moment for more before it calls it the Esc key. Textual waits 100 ms,
and its input loop looks at that deadline only when its ``select`` times out, every
100 ms: each Esc took about 100 ms before the console saw it (most of the time Esc took
to go back to the overview). Here the wait is :data:`ESCAPE_DELAY_MS`, and for a moment
after input came the loop wakes often enough to keep it (idle, it waits as Textual's
does: a console left open is not woken a hundred times a second). A terminal (and ssh)
sends a key's sequence in one write, so its bytes arrive together; ``ESCDELAY``
(milliseconds, as for ncurses) overrides.

Input that arrives also pauses merging at once (``INPUT_GATE.stir``), before it is
made a key: the key then finds the UI's loop free.
"""

from __future__ import annotations

import os
import selectors
import time
from types import SimpleNamespace

from textual import constants
from textual.driver import Driver

from console.collector.gate import INPUT_GATE

ESCAPE_DELAY_MS = 25
"""How long a lone Esc waits for the rest of a sequence (Textual: 100; tmux 3.5's own
``escape-time`` is 10). 40 was half of Esc's time back to the overview at 1,000 nodes."""
POLL = 0.01
"""Seconds the input loop waits for input before it looks at the Esc deadline again."""
QUICK_FOR = 0.5
"""Seconds after input during which the loop waits :data:`POLL` at most (longer than
any Esc deadline but a very slow ``ESCDELAY``, which Textual's own 0.1 s wait serves)."""


def quick_escape() -> None:
    """Use :data:`ESCAPE_DELAY_MS` unless the user's ``ESCDELAY`` says otherwise."""
    if "ESCDELAY" not in os.environ:
        constants.ESCAPE_DELAY = ESCAPE_DELAY_MS / 1000  # type: ignore[misc]  # read at each Esc


class QuickSelector(selectors.SelectSelector):
    """A selector whose waits last :data:`POLL` at most for :data:`QUICK_FOR` seconds
    after input came (an Esc may be waiting for the rest of its sequence)."""

    def __init__(self) -> None:
        super().__init__()
        self._quick_until = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if time.monotonic() < self._quick_until:
            timeout = POLL if timeout is None else min(timeout, POLL)
        ready = super().select(timeout)
        if ready:
            self._quick_until = time.monotonic() + QUICK_FOR
            # Merging pauses now, not once the key is parsed and posted to the UI's
            # loop (an Esc's delay later): a key found the loop in the middle of merging
            # and waited up to 190 ms for it (timed at 1,000 nodes).
            INPUT_GATE.stir()
        return ready


def driver_for(chosen: type[Driver]) -> type[Driver]:
    """Textual's Linux terminal driver with an input loop that waits :data:`POLL` at most
    (its only selector is the one it makes for that loop); any other driver as it is."""
    try:
        from textual.drivers import linux_driver
    except ImportError:  # no termios: not Linux
        return chosen
    if chosen is not linux_driver.LinuxDriver:
        return chosen
    # The module as it is, its SelectSelector ours: a later Textual that reads any other
    # name of ``selectors`` there still finds it.
    linux_driver.selectors = SimpleNamespace(  # type: ignore[assignment]
        **{**vars(selectors), "SelectSelector": QuickSelector}
    )
    return chosen
