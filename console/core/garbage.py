"""Python's cyclic garbage collection where many objects are made.

:func:`young_collections_rarer`, for the collector process: young passes after 10,000
allocations. A poll's objects mostly go by reference counting, and few are left over; at Python's
700 the youngest generation was still collected five times a second at 1,000 nodes, a
few milliseconds each, and every tenth pass the middle one (0.8 s of CPU in 30 s;
bench/fleet_poll.py). At :data:`YOUNG_THRESHOLD` the same fleet sees one young pass in
30 s (0.04 s), and the full passes that the middle ones trigger come as rarely. They do
still come on their own: a fleet whose connections fail leaves cycles (exceptions and
their frames) that hold sockets, and those must not wait for a timer.

:func:`no_cyclic_collection`, around work that makes many long-lived objects at once
(a column of new series, a recording's seek or capture): none of them is garbage.
:func:`long_lived_objects`, the same where they are kept past the next young pass (a
recording's seek, every reading of one made): after, they are in the oldest generation.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_THRESHOLD = 10_000
"""Allocations (less deallocations) between collections of the youngest generation."""


@contextlib.contextmanager
def young_collections_rarer() -> Iterator[None]:
    """While inside: the youngest generation collected after :data:`YOUNG_THRESHOLD`
    allocations (the thresholds as they were after)."""
    saved = gc.get_threshold()
    gc.set_threshold(max(saved[0], YOUNG_THRESHOLD), *saved[1:])
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def no_cyclic_collection() -> contextlib.AbstractContextManager[None]:
    """While inside: no cyclic collection (as it was after). For code that makes many
    objects, none of them garbage: the collector would walk them, and the heap they
    join, again and again while they are made."""
    return _collector_off(long_lived=False)


def long_lived_objects() -> contextlib.AbstractContextManager[None]:
    """:func:`no_cyclic_collection`, and after, what was made moved to the oldest
    generation unwalked.

    Made with the collector off, the objects sit in the youngest generation: the next
    young collection (on the UI's loop, just after a rewind key) walked them all (a
    seek's moment at 1,000 nodes: 53,000 containers, its entities and their attrs'
    dicts and lists, ~25 ms; every reading made: 227,000), and the middle one again
    later. ``freeze`` then ``unfreeze`` moves them in two list splices; a full
    collection walks them as it would have. The process's other young objects move
    with them: a cycle among those waits for a full collection instead of a young
    one. Not when the caller had the collector off, or froze objects of its own."""
    return _collector_off(long_lived=True)


@contextlib.contextmanager
def _collector_off(long_lived: bool) -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            # Moved before the collector is on again: its first allocation after would
            # start the very pass this saves.
            if long_lived and not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()
