"""Input first: merging what the collector relays waits while someone is typing.

The UI merges a large fleet's changes in small steps, and between two steps a key
is handled. But opening a pane takes Textual many turns of the event loop, and a
merge step would run between each of them: at 1,000 nodes a key would wait
seconds. So a key press closes the gate, and it stays closed until what the key
asked for is drawn (:meth:`InputGate.drawn`) and input has then been quiet for a
moment: a pane that takes longer than that moment to build is never interleaved
with merging either. Data is late by that moment, never input.
"""

from __future__ import annotations

import asyncio
import time

QUIET = 0.15
"""Seconds after a key's pane is drawn (or the last key press) before merging resumes:
long enough for the next key of a burst (typing a filter), short enough that merging
goes on between keys pressed at a person's pace (data keeps refreshing while someone
walks the panes)."""
HOLD_LIMIT = 5.0
"""Seconds a key holds the gate at most when its drawing is never reported (a key the
UI ignores, a pane that failed): data is held up, never stopped."""
STIR_LIMIT = 0.5
"""Seconds of unbroken terminal input (no pause of :data:`QUIET`) that may pause merging
before a key is made of it: a moving mouse reports many times a second, and must not
hold data back for as long as it moves."""
HELD_POLL = 0.02
"""Seconds between two looks at a gate held for a key not drawn yet."""


class InputGate:
    """Closed from a key press (:meth:`touch`) until :data:`QUIET` seconds after what it
    asked for is drawn (:meth:`drawn`), or :data:`HOLD_LIMIT` after the key."""

    def __init__(self, quiet: float = QUIET, hold_limit: float = HOLD_LIMIT) -> None:
        self.quiet = quiet
        self.hold_limit = hold_limit
        self._last = -quiet
        self._held_since: float | None = None
        """When the first key not drawn yet was pressed (``None``: all drawn)."""
        self._stirred = -quiet
        self._stir_began = -quiet
        """When the last input came, and when its run began (see :meth:`stir`)."""

    def touch(self) -> None:
        """Someone pressed a key: closed until its answer is drawn."""
        self._last = time.monotonic()
        if self._held_since is None:
            self._held_since = self._last

    def stir(self) -> None:
        """Input came from the terminal, not yet made a key (an Esc waits for the rest of
        its sequence): merging pauses for :data:`QUIET` from now, so the key finds the
        loop free. Safe from the terminal's input thread (float assignments); not a
        key's hold: input that makes no key (the mouse) pauses merging only for the first
        :data:`STIR_LIMIT` of a run with no quiet moment in it."""
        now = time.monotonic()
        if now - self._stirred > self.quiet:  # a new run of input
            self._stir_began = now
        self._stirred = now
        if now - self._stir_began <= STIR_LIMIT:
            self._last = max(self._last, now)

    def drawn(self) -> None:
        """What the keys asked for is on the screen: merging resumes after :data:`QUIET`."""
        self._held_since = None
        self._last = time.monotonic()

    def quiet_for(self, seconds: float) -> bool:
        """Whether no key is waiting to be drawn and none was pressed (or drawn) in the
        last ``seconds``."""
        return self._closed_for(seconds) <= 0

    def is_open(self) -> bool:
        """Whether merging (and other work that can wait) may run now."""
        return self._closed_for(self.quiet) <= 0

    def _closed_for(self, quiet: float) -> float:
        now = time.monotonic()
        if self._held_since is not None:
            if now - self._held_since < self.hold_limit:
                return HELD_POLL
            self._held_since = None  # never reported drawn: give up holding
        return self._last + quiet - now

    async def wait(self) -> None:
        """Let the loop turn once, then wait while input is recent or not drawn yet."""
        await asyncio.sleep(0)
        while (left := self._closed_for(self.quiet)) > 0:
            await asyncio.sleep(left)


INPUT_GATE = InputGate()
"""The process's one gate: the UI touches it, merging steps wait on it."""
