"""The engine: timeouts, backoff, isolation, statuses, no overlapping polls."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest

from console.api import Batch, Entity, Sample, Source, SourceDisabled
from console.collector.gate import InputGate
from console.core import engine as engine_module
from console.core.engine import APPLY_SLICE, ENTITY_WEIGHT, MAX_BACKOFF, MIRROR_SLICE, Engine
from console.core.model import METRICS, Finding
from console.core.store import LITTER_SLICE, Store
from console.sim.simulation import Simulation
from console.sim.source import SimSource
from tests.waiting import timeouts_armed


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Good(Source):
    type = "test"

    def __init__(self, name: str = "good", interval: float = 1.0) -> None:
        self.name = name
        self.interval = interval
        self.polls = 0

    async def poll(self) -> Batch:
        self.polls += 1
        return Batch(
            entities=[Entity("node/n1", "n1")], samples=[Sample("node/n1", "node.load1", 1.0)]
        )


class Raises(Source):
    type = "test"
    name = "raises"

    async def poll(self) -> Batch:
        raise ConnectionRefusedError("connection refused")


class Hangs(Source):
    type = "test"
    name = "hangs"
    timeout = 0.05

    async def poll(self) -> Batch:
        await asyncio.Event().wait()  # never set: a hung remote
        raise AssertionError("unreachable")


class Disabled(Source):
    type = "test"
    name = "disabled"

    async def poll(self) -> Batch:
        raise SourceDisabled("no NVML library")


def _status(engine: Engine, name: str) -> tuple[str, str]:
    status = next(s for s in engine.statuses() if s.name == name)
    return status.status, status.reason


async def test_a_raising_and_a_hanging_source_do_not_stop_the_others() -> None:
    engine = Engine(Store(), [Good(), Raises(), Hangs(), Disabled()], clock=Clock())
    await engine.collect(1)
    assert _status(engine, "good") == ("ok", "")
    assert _status(engine, "raises") == ("failed", "ConnectionRefusedError: connection refused")
    assert _status(engine, "hangs") == ("failed", "timed out after 0.05s")
    assert _status(engine, "disabled") == ("disabled", "no NVML library")
    assert engine.store.get("node/n1") is not None


async def test_a_source_that_times_its_own_waits_is_polled_with_no_engine_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class TimesItself(Good):
        times_its_waits = True

    armed = timeouts_armed(monkeypatch)
    engine = Engine(Store(), [TimesItself("own"), Good("plain")], clock=Clock())
    await engine.collect(1)
    assert (_status(engine, "own"), _status(engine, "plain")) == (("ok", ""), ("ok", ""))
    assert armed == [Good.timeout]  # the plain source's alone


async def test_backoff_doubles_up_to_the_cap() -> None:
    clock = Clock()
    source = Raises()
    engine = Engine(Store(), [source], clock=clock)
    state = engine._states[0]
    waits = []
    for _ in range(9):
        await engine._poll(state)
        waits.append(state.next_due - clock.now)
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert waits[-1] == MAX_BACKOFF


async def test_polls_stay_on_the_interval_s_grid_when_wake_ups_lag() -> None:
    # An agent streams a frame a second on its own grid: a poll schedule that slips by
    # each wake-up's lag falls a frame behind now and then, and that frame is lost.
    clock = Clock(1000.0)
    engine = Engine(Store(), [Good()], clock=clock)
    state = engine._states[0]
    dues = []
    for lag in (0.0, 0.05, 0.05, 0.3, 1.5, 0.0):
        clock.now = max(clock.now, state.next_due) + lag
        await engine._poll(state)
        dues.append(state.next_due)
    # Small lags never add up; a poll a quarter interval late or more starts a new grid
    # (an overloaded loop polls less often rather than catching up).
    assert dues == pytest.approx([1001.0, 1002.0, 1003.0, 1004.3, 1006.8, 1007.8])


async def test_a_failure_after_good_polls_is_stale_and_ok_turns_stale_when_polls_stop() -> None:
    clock = Clock()
    flaky = Good("flaky")
    engine = Engine(Store(), [flaky], clock=clock)
    await engine.collect(1)
    assert _status(engine, "flaky")[0] == "ok"
    clock.now += 10  # no poll for 10 intervals
    assert _status(engine, "flaky") == ("stale", "no data for 10s")

    async def refuse() -> Batch:
        raise TimeoutError

    flaky.poll = refuse  # type: ignore[method-assign]
    await engine.collect(1)
    status, reason = _status(engine, "flaky")
    assert (status, reason) == ("stale", "timed out after 5s; last data 10s ago")
    assert engine.store.get("node/n1") is not None  # last good data kept


async def test_disabled_source_is_not_polled_again() -> None:
    disabled = Disabled()
    calls = 0
    original = disabled.poll

    async def counting() -> Batch:
        nonlocal calls
        calls += 1
        return await original()

    disabled.poll = counting  # type: ignore[method-assign]
    engine = Engine(Store(), [disabled])
    await engine.collect(3)
    assert calls == 1


async def test_polls_of_one_source_never_overlap() -> None:
    class Slow(Source):
        type = "test"
        name = "slow"
        interval = 0.001  # much shorter than a poll
        timeout = 5.0

        def __init__(self) -> None:
            self.running = 0
            self.most = 0
            self.done = 0
            self.enough = asyncio.Event()

        async def poll(self) -> Batch:
            self.running += 1
            self.most = max(self.most, self.running)
            for _ in range(5):
                await asyncio.sleep(0)  # yield to the loop mid-poll
            self.running -= 1
            self.done += 1
            if self.done >= 5:
                self.enough.set()
            return Batch()

    slow = Slow()
    engine = Engine(Store(), [slow])
    engine.start()
    await asyncio.wait_for(slow.enough.wait(), timeout=10)
    await engine.stop()
    assert slow.most == 1


async def test_a_raising_analyzer_is_reported_and_the_rest_still_run() -> None:
    def broken(store: Store) -> list[Finding]:
        raise KeyError("oops")

    def fine(store: Store) -> list[Finding]:
        return [Finding("node/n1", "test", "warning", "t")]

    engine = Engine(Store(), [Good()], analyzers=[broken, fine])
    await engine.collect(1)
    assert [f.kind for f in engine.store.findings] == ["test"]
    assert any("KeyError" in reason for reason in engine.analyzer_errors.values())


async def test_malformed_batch_marks_the_source_failed() -> None:
    class Lies(Source):
        type = "test"
        name = "lies"

        async def poll(self) -> Batch:
            return "not a batch"  # type: ignore[return-value]

    engine = Engine(Store(), [Lies(), Good()])
    await engine.collect(1)
    status, reason = _status(engine, "lies")
    assert status == "failed" and reason.startswith("bad data")
    assert _status(engine, "good")[0] == "ok"


async def test_a_poll_that_blocks_the_loop_past_its_timeout_is_named() -> None:
    import time

    class Blocks(Source):
        type = "test"
        name = "blocks"
        timeout = 0.05

        async def poll(self) -> Batch:
            time.sleep(0.15)  # the fault under test: a blocking call on the event loop
            return Batch([Entity("node/n1", "n1")])

    engine = Engine(Store(), [Blocks()])
    await engine.collect(1)
    (status,) = engine.statuses()
    assert status.status == "failed"
    assert status.reason.startswith("blocked the console for 0.")
    assert status.reason.endswith("(timeout 0.05s): run blocking work in asyncio.to_thread")
    assert engine.store.get("node/n1") is None  # what it returned is not kept


class Big(Source):
    """One poll of many samples (a relay's cycle of a large fleet)."""

    name = "big"
    type = "big"

    def __init__(self, samples: int) -> None:
        self.samples = samples

    async def poll(self) -> Batch:
        entities = [Entity(f"gpu/n{i}/0", "GPU 0") for i in range(self.samples // 10)]
        # Known metric names: the intake drops unknown ones before anything merges.
        names = sorted(m for m in METRICS if m.startswith("gpu."))[:10]
        samples = [
            Sample(f"gpu/n{i // 10}/0", names[i % 10], float(i)) for i in range(self.samples)
        ]
        return Batch(entities=entities, samples=samples)


@contextlib.asynccontextmanager
async def loop_turns() -> AsyncIterator[list[int]]:
    """How often the event loop turned to other work while inside (what a key press is
    to the UI): ``turns[0]``."""
    turns, running = [0], [True]

    async def other_work() -> None:
        while running[0]:
            turns[0] += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(other_work())
    try:
        yield turns
    finally:
        running[0] = False
        await ticker


async def test_a_large_batch_merges_in_slices_with_the_loop_free_between() -> None:
    engine = Engine(Store(), [Big(4 * APPLY_SLICE)])
    async with loop_turns() as turns:
        await engine.collect(1)
    assert turns[0] >= 6  # the loop turned between slices (3 turns when merged in one go)
    assert len(list(engine.store.readings())) == 4 * APPLY_SLICE  # and all of it landed
    assert engine.store.count("gpu") == 4 * APPLY_SLICE // 10


async def test_cycle_hooks_get_each_cycle_s_changes_and_a_failing_hook_is_contained() -> None:
    engine = Engine(Store(), [Good()])
    seen: list[int] = []

    def broken(changes: object) -> None:
        raise RuntimeError("reader bug")

    engine.cycle_hooks += [broken, lambda changes: seen.append(len(changes.readings))]
    await engine.collect(2)
    assert len(seen) == 2 and seen[0] > 0


class MirrorOfBig(Big):
    """A large relay read (the UI mirroring its collector)."""

    mirror = True


async def test_a_mirror_merges_in_small_slices_so_a_key_waits_for_little(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes: list[int] = []
    apply = Store.apply

    def measured(self: Store, batch: Batch, *args: object) -> int:
        sizes.append(len(batch.samples) + len(batch.entities))
        return apply(self, batch, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "apply", measured)
    engine = Engine(Store(), [MirrorOfBig(2 * APPLY_SLICE)])
    await engine.collect(1)
    assert max(sizes) == MIRROR_SLICE < APPLY_SLICE  # the most a key can wait behind
    entities = sizes[: sizes.index(MIRROR_SLICE)]  # entities land first, costlier each
    assert entities and entities == [MIRROR_SLICE // ENTITY_WEIGHT] * len(entities)
    assert ENTITY_WEIGHT > 1
    assert len(list(engine.store.readings())) == 2 * APPLY_SLICE  # all of it landed


class MirrorWith(MirrorOfBig):
    """A large mirror read whose samples are then edited by ``change``."""

    def __init__(self, samples: int, change: Callable[[list[Sample]], None]) -> None:
        super().__init__(samples)
        self.change = change

    async def poll(self) -> Batch:
        batch = await super().poll()
        self.change(batch.samples)
        return batch


async def test_a_mirror_s_batch_is_admitted_a_slice_at_a_step_before_any_lands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps: list[tuple[str, int]] = []
    admit_part, apply = engine_module.admit_part, Store.apply

    def admitting(batch: Batch, *args: object) -> None:
        steps.append(("admit", batch.reading_count()))
        admit_part(batch, *args)  # type: ignore[arg-type]

    def merging(self: Store, batch: Batch, *args: object) -> int:
        steps.append(("apply", batch.reading_count()))
        return apply(self, batch, *args)  # type: ignore[arg-type]

    def unknown(samples: list[Sample]) -> None:  # one unknown name in two slices
        samples[0].metric = samples[-1].metric = "made.up"

    monkeypatch.setattr(engine_module, "admit_part", admitting)
    monkeypatch.setattr(Store, "apply", merging)
    engine = Engine(Store(), [MirrorWith(2 * APPLY_SLICE, unknown)])
    await engine.collect(1)
    admitted = [count for kind, count in steps if kind == "admit"]
    assert max(admitted) == MIRROR_SLICE and sum(admitted) == 2 * APPLY_SLICE
    assert steps.index(("apply", MIRROR_SLICE)) > len(admitted) - 1  # all admitted first
    assert len(list(engine.store.readings())) == 2 * APPLY_SLICE - 2
    status = engine.statuses()[0]  # one note for the whole batch
    assert status.status == "ok" and status.reason.startswith("refused 2 samples of 1 unknown")


async def test_a_mirror_s_batch_refused_in_its_last_slice_never_half_merges() -> None:
    def absurd(samples: list[Sample]) -> None:
        samples[-1].time = 1e300

    engine = Engine(Store(), [MirrorWith(2 * APPLY_SLICE, absurd)])
    await engine.collect(1)
    assert engine.statuses()[0].status == "failed"
    assert list(engine.store.readings()) == [] and engine.store.count("gpu") == 0


async def test_an_engine_without_cycle_hooks_frees_forgotten_changes_in_slices() -> None:
    engine = Engine(Store(), [])
    engine.store.apply(await Big(2 * LITTER_SLICE).poll(), "big", 1.0)
    async with loop_turns() as turns:
        engine.end_cycle()  # nobody reads the changes: forgotten, 4 slices to free
        assert engine.store.drop_litter(0)
        await engine._drop_litter()
    assert not engine.store.drop_litter(0) and turns[0] >= 4


async def test_a_cycle_that_changed_nothing_leaves_nothing_to_free_nor_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A quiet cycle's forgotten changes are empty sets: the analysis loop neither
    frees them nor waits at the input gate for it (held while someone types)."""
    from console.collector.gate import INPUT_GATE

    engine = Engine(Store(), [])
    engine.end_cycle()
    monkeypatch.setattr(INPUT_GATE, "_last", time.monotonic() + 0.3)  # typing: closed
    async with loop_turns() as turns:
        await engine._drop_litter()
    assert not engine.store.drop_litter(0) and turns[0] == 0


def test_a_ui_that_only_mirrors_does_not_sweep_the_store_for_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    swept: list[str] = []
    monkeypatch.setattr(Store, "expire", lambda self, *a, **k: swept.append("x") or [])
    Engine(Store(), [MirrorOfBig(10)]).expire()
    assert swept == []  # the relay says what is gone: no walk over every series
    Engine(Store(), [MirrorOfBig(10), Big(10)]).expire()
    assert swept == ["x"]


async def test_a_big_simulated_fleet_s_slow_tick_lands_rather_than_being_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulation = Simulation(nodes=800)
    source = SimSource(simulation, 1.0)
    step = simulation.step
    clock = [0.0]

    def slow_step(scope: str = "all") -> Batch:
        clock[0] += 7.0  # as at 4,000 nodes on a busy machine, proportionally
        return step(scope)

    monkeypatch.setattr(simulation, "step", slow_step)
    monkeypatch.setattr("console.core.engine.time.monotonic", lambda: clock[0])
    # The clock above is every module's: a gate an earlier app test left held for a key
    # (not drawn when that app closed) would wait for a time that never comes.
    monkeypatch.setattr("console.core.engine.INPUT_GATE", InputGate())
    engine = Engine(Store(), [source])
    await engine.collect(1)
    (status,) = engine.statuses()
    assert status.status == "ok", status.reason
    assert engine.store.count("node") >= 800  # (and the storage servers)


class EmptyFirst(Source):
    """Lands nothing at its first poll (an Alertmanager with no alerts), then a node."""

    type = "test"
    name = "empty-first"
    interval = 0.05

    def __init__(self) -> None:
        self.polls = 0

    async def poll(self) -> Batch:
        self.polls += 1
        if self.polls == 1:
            return Batch()
        return Batch(entities=[Entity("node/n1", "n1")])


async def test_the_fleet_goes_out_not_analysed_though_an_empty_store_was_analysed_first() -> None:
    # Found in review: analysis on the empty store set `analysed`, and the first fleet
    # then went out as analysed with no findings: "no findings" as a verdict.
    engine = Engine(Store(), [EmptyFirst()], [])
    seen: list[bool] = []

    async def first() -> None:
        seen.append(engine.analysed)

    engine.before_first_analysis = first
    engine.start()
    async with asyncio.timeout(10):
        while not seen or not engine.analysed:
            await asyncio.sleep(0.01)
    await engine.stop()
    assert seen == [False]


async def test_a_failing_reader_of_the_first_fleet_does_not_stop_analysis() -> None:
    finding = Finding("node/n1", "k", "warning", "t")
    engine = Engine(Store(), [Good(interval=0.05)], [lambda store: [finding]])

    async def first() -> None:
        raise RuntimeError("the relay could not encode")

    engine.before_first_analysis = first
    engine.start()
    async with asyncio.timeout(10):
        while not engine.analysed:
            await asyncio.sleep(0.01)
    await engine.stop()
    assert [f.ref for f in engine.store.findings] == ["node/n1"]
