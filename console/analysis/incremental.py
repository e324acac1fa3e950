"""Results kept between analysis cycles, recomputed only where something moved.

At fleet size nearly nothing changes from one cycle to the next: a link whose
counters did not move keeps its verdict, a port without new errors keeps its
findings. An analyzer keeps what it found per entity in a :class:`Memo` and
recomputes an entity only when the store says it moved (:meth:`Store.moved`).

The memo forgets everything when it cannot trust what it kept: a cycle went by
without the analyzer (it raised, or someone ended a cycle without analysis), or
the thresholds it depends on changed. ``set_full(store)`` turns keeping off for
one store: every result is recomputed each cycle (the tests compare both ways).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from console.core.store import Moved, Store

FULL_KEY = "analysis.full"


def set_full(store: Store, full: bool = True) -> None:
    """Recompute everything on every cycle for this store (``full``), or keep results."""
    store.analysis_state[FULL_KEY] = full


class Memo:
    """One analyzer's results by key, valid while :meth:`start` says so."""

    __slots__ = ("context", "cycle", "results")

    def __init__(self) -> None:
        self.results: dict[Any, Any] = {}
        self.cycle = -2
        """The store's cycle this memo was last brought up to date in (none yet)."""
        self.context: Hashable = None

    def start(self, store: Store, live: int, context: Hashable = None) -> Moved | None:
        """Begin a run over ``live`` entities: what moved this cycle, or ``None`` when
        every result must be recomputed (and what was kept is dropped)."""
        trusted = (
            not store.analysis_state.get(FULL_KEY)
            and self.cycle in (store.cycle - 1, store.cycle)
            and context == self.context
            and len(self.results) <= 2 * live + 64  # entities went away: start afresh
        )
        self.context = context
        self.cycle = store.cycle
        if not trusted:
            self.results.clear()
            return None
        return store.moved()


def memo(store: Store, name: str) -> Memo:
    """The memo an analyzer keeps in the store under ``name``."""
    found = store.analysis_state.get(name)
    if not isinstance(found, Memo):
        found = store.analysis_state[name] = Memo()
    return found
