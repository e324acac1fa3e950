"""Input first: merging waits behind a key press, and full GC passes wait for quiet."""

from __future__ import annotations

import asyncio
import gc
import sys

import pytest

from console.collector.gate import INPUT_GATE, InputGate
from console.ui.pauses import NEVER, SWITCH_INTERVAL, QuietCollector


async def test_merging_waits_while_a_key_was_just_pressed() -> None:
    gate = InputGate(quiet=30.0)
    await asyncio.wait_for(gate.wait(), 1.0)  # nobody typing: merging goes on
    gate.touch()
    assert not gate.quiet_for(1.0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(gate.wait(), 0.2)  # a key just now: merging waits


def test_full_collections_wait_for_a_quiet_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    before, switch = gc.get_threshold(), sys.getswitchinterval()
    collector = QuietCollector()
    collector.start()
    try:
        assert gc.get_threshold()[2] == NEVER
        assert sys.getswitchinterval() == SWITCH_INTERVAL < switch  # the input thread's GIL
        collector.tick()
        assert collector.full_passes == 0  # not due yet
        monkeypatch.setattr(collector, "_last", -1e9)  # long ago
        monkeypatch.setattr(INPUT_GATE, "_last", 1e18)  # a key "now" (never quiet)
        collector.tick()
        assert collector.full_passes == 0  # due, but someone is typing
        monkeypatch.setattr(INPUT_GATE, "_last", -1e9)
        collector.tick()
        assert collector.full_passes == 1
    finally:
        collector.stop()
    assert gc.get_threshold() == before and sys.getswitchinterval() == switch


def test_no_collection_while_held_and_none_held_unless_started() -> None:
    collector = QuietCollector()
    collector.hold()  # not started (a test app, a bench): the collector is left alone
    assert gc.isenabled()
    collector.start()
    try:
        collector.hold()
        assert not gc.isenabled()
        collector.release()
        assert gc.isenabled()
        collector.hold()
    finally:
        collector.stop()  # stopping releases a hold too
    assert gc.isenabled()
    gc.disable()  # someone else turned it off: a key's release does not turn it on
    try:
        collector.start()
        collector.hold()
        collector.release()
        assert not gc.isenabled()
        collector.stop()
    finally:
        gc.enable()
