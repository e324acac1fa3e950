"""The collector's record of what changed when, numbered by cycle, for delta reads.

A viewer says which cycle it has (``since``); the journal answers with what changed
after it, or ``None`` when it cannot say (a cycle older than what removals are kept
for, or one from another collector run, told apart by ``epoch``): the viewer then
reads the whole store.

It keeps, per entity and per (ref, metric), the cycle that last changed it: one
number each, however many cycles pass (a log of each cycle's key sets cost ~30 MB a
cycle at 1,000 nodes). Removals are kept :data:`KEEP_CYCLES` cycles.
"""

from __future__ import annotations

import secrets

from console.core.store import Changes

KEEP_CYCLES = 30
"""Cycles a removal is remembered: a viewer further behind reads the whole store."""
NOTHING = Changes(frozenset(), frozenset(), frozenset(), False)


class Journal:
    """When each thing last changed (an engine cycle hook)."""

    def __init__(self, keep: int = KEEP_CYCLES, began_empty: bool = False) -> None:
        self.began_empty = began_empty
        """Whether the store was empty when counting began (a collector starting): a
        reader at cycle 0 then holds nothing that a whole read would not give it."""
        self.epoch = secrets.token_hex(8)
        """This collector run: a cycle number means nothing across runs."""
        self.seq = 0
        """The newest cycle's number (0: none yet)."""
        self.keep = keep
        self._entities: dict[str, int] = {}
        self._readings: dict[tuple[str, str], int] = {}
        self._removed: dict[str, int] = {}
        self._findings = 0
        self._oldest = 0
        """Readers at an older cycle than this may have missed a removal."""

    def __call__(self, changes: Changes) -> None:
        if not changes:
            return
        self.seq = seq = self.seq + 1
        entities, readings = self._entities, self._readings
        # In C: a large fleet's first cycle is every key (1.2 million at 4,000 nodes).
        entities.update(dict.fromkeys(changes.entities, seq))
        readings.update(dict.fromkeys(changes.readings, seq))
        if changes.removed:
            for ref in changes.removed:
                self._removed[ref] = seq
                entities.pop(ref, None)
            for key in [k for k in readings if k[0] in changes.removed]:
                del readings[key]
        if changes.findings:
            self._findings = seq
        self._oldest = max(0, seq - self.keep)
        self._removed = {r: s for r, s in self._removed.items() if s > self._oldest}

    def since(self, epoch: str | None, seq: int | None) -> Changes | None:
        """What changed after cycle ``seq`` of run ``epoch``; ``None``: read it all."""
        if epoch != self.epoch or seq is None or seq > self.seq or seq < self._oldest:
            return None
        if seq == 0 and self.began_empty and not self._removed:
            # A viewer that read before the first cycle (a console starting with its
            # collector) has at most part of it, nothing gone since: all of it is what
            # changed. Read whole, it is one document with the jobs' history, not a
            # scan of every key's cycle (4 s of the first frame at 4,000 nodes).
            return None
        if seq == self.seq:
            return NOTHING
        return Changes(
            frozenset(ref for ref, when in self._entities.items() if when > seq),
            frozenset(key for key, when in self._readings.items() if when > seq),
            frozenset(ref for ref, when in self._removed.items() if when > seq),
            self._findings > seq,
        )
