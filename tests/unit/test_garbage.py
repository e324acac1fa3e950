"""The collector collects its youngest generation after 10,000 allocations, not 700;
no cyclic collection where many objects are made and none is garbage."""

from __future__ import annotations

import gc

from console.core.garbage import YOUNG_THRESHOLD, no_cyclic_collection, young_collections_rarer


def test_young_passes_come_after_more_allocations_and_the_thresholds_come_back() -> None:
    saved = gc.get_threshold()
    assert saved[0] < YOUNG_THRESHOLD  # (Python's default: 700)
    with young_collections_rarer():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *saved[1:])  # full passes as ever
    assert gc.get_threshold() == saved


def test_no_cyclic_collection_inside_and_as_it_was_after() -> None:
    with no_cyclic_collection():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()  # someone else turned it off: it stays off
    try:
        with no_cyclic_collection():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
