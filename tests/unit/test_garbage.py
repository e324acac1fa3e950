"""The collector collects its youngest generation after 10,000 allocations, not 700;
no cyclic collection where many objects are made and none is garbage."""

from __future__ import annotations

import gc

from console.core.garbage import (
    YOUNG_THRESHOLD,
    long_lived_objects,
    no_cyclic_collection,
    young_collections_rarer,
)


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


def _young() -> set[int]:
    return {id(item) for generation in (0, 1) for item in gc.get_objects(generation)}


def test_long_lived_objects_are_left_in_the_oldest_generation_unwalked() -> None:
    thresholds = gc.get_threshold()
    gc.set_threshold(0)  # no automatic pass: where they are is where the block left them
    passes: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.callbacks.append(watch)
    try:
        with long_lived_objects():
            assert not gc.isenabled()
            made = [[index] for index in range(1000)]
        assert gc.isenabled() and passes == []  # none walked
        assert not _young().intersection(map(id, made))
        gc.disable()  # a caller that turned the collector off: left as they are
        try:
            with long_lived_objects():
                kept = [[index] for index in range(10)]
        finally:
            gc.enable()
        assert id(kept[0]) in _young()
        gc.freeze()  # a caller's frozen objects stay frozen
        try:
            with long_lived_objects():
                pass
            assert gc.get_freeze_count() > 0
        finally:
            gc.unfreeze()
    finally:
        gc.callbacks.remove(watch)
        gc.set_threshold(*thresholds)


def test_no_pass_starts_as_long_lived_objects_ends() -> None:
    """Moved before the collector is on again: a pass at its first allocation after would
    walk all of what was made."""
    thresholds = gc.get_threshold()
    passes: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.set_threshold(100)
    gc.callbacks.append(watch)
    try:
        with long_lived_objects():
            made = [[index] for index in range(1000)]
        after = [[index] for index in range(5)]
    finally:
        gc.callbacks.remove(watch)
        gc.set_threshold(*thresholds)
    assert passes == [] and len(made) + len(after) == 1005
