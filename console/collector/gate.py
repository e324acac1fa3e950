"""Input first: merging what the collector relays waits while someone is typing.

The UI merges a large fleet's changes in small steps, and between two steps a key
is handled. But opening a pane takes Textual many turns of the event loop, and a
merge step would run between each of them: at 1,000 nodes a key would wait
seconds. So a key press closes the gate for a moment; merging resumes once the
pane is drawn and input has been quiet. Data is late by that moment, never input.
"""

from __future__ import annotations

import asyncio
import time

QUIET = 0.4
"""Seconds after the last key press before merging resumes (a pane at 4,000 nodes
draws in well under this)."""


class InputGate:
    """Closed for :data:`QUIET` seconds after each :meth:`touch`."""

    def __init__(self, quiet: float = QUIET) -> None:
        self.quiet = quiet
        self._last = -quiet

    def touch(self) -> None:
        """Someone pressed a key."""
        self._last = time.monotonic()

    def quiet_for(self, seconds: float) -> bool:
        """Whether no key was pressed in the last ``seconds``."""
        return time.monotonic() - self._last >= seconds

    async def wait(self) -> None:
        """Let the loop turn once, then wait while input is recent."""
        await asyncio.sleep(0)
        while (left := self._last + self.quiet - time.monotonic()) > 0:
            await asyncio.sleep(left)


INPUT_GATE = InputGate()
"""The process's one gate: the UI touches it, merging steps wait on it."""
