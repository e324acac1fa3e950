"""The collector's log of recent cycles: what changed, numbered, for delta reads.

A viewer says which cycle it has (``since``); the journal answers with what changed
after it, merged, or ``None`` when that cycle is too old (or from another
collector run, told apart by ``epoch``): the viewer then gets the whole store.
"""

from __future__ import annotations

import secrets
from collections import deque

from console.store import Changes

KEEP_CYCLES = 8
"""Cycles remembered: a viewer further behind reads the whole store (each cycle of a
1,000-node fleet names ~200,000 readings: a few MB apiece)."""
NOTHING = Changes(frozenset(), frozenset(), frozenset(), False)


class Journal:
    """Numbered changes of the last :data:`KEEP_CYCLES` cycles (an engine cycle hook)."""

    def __init__(self, keep: int = KEEP_CYCLES) -> None:
        self.epoch = secrets.token_hex(8)
        """This collector run: a cycle number means nothing across runs."""
        self.seq = 0
        """The newest cycle's number (0: none yet)."""
        self._log: deque[tuple[int, Changes]] = deque(maxlen=keep)

    def __call__(self, changes: Changes) -> None:
        if changes:
            self.seq += 1
            self._log.append((self.seq, changes))

    def since(self, epoch: str | None, seq: int | None) -> Changes | None:
        """What changed after cycle ``seq`` of run ``epoch``; ``None``: read it all."""
        if epoch != self.epoch or seq is None or seq > self.seq:
            return None
        if seq == self.seq:
            return NOTHING
        if not self._log or seq < self._log[0][0] - 1:
            return None
        newer = [changes for number, changes in self._log if number > seq]
        return Changes(
            frozenset().union(*(c.entities for c in newer)),
            frozenset().union(*(c.readings for c in newer)),
            frozenset().union(*(c.removed for c in newer)),
            any(c.findings for c in newer),
        )
