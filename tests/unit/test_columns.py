"""Readings as columns (``Batch.columns``): checked per column, merged per metric, and the
same store as the same readings sent as samples (issue 17 item 2)."""

from __future__ import annotations

import gc
import math
import sys
from typing import Any

import pytest

from console.api import Batch, Column, Entity, Sample, Source
from console.core.batch_check import check_batch
from console.core.engine import APPLY_SLICE, Engine
from console.core.intake import IntakeError, admit
from console.core.ring import FirstPoint
from console.core.store import FLEET, LONG_LIVED_COLUMN, Store
from console.sim.simulation import Simulation
from console.sim.source import SimSource

NOW = 1_800_000_000.0


def _as_samples(batch: Batch) -> Batch:
    """The same batch with every reading a Sample (what a plugin without columns sends)."""
    return Batch(list(batch.entities), batch.as_samples(), time=batch.time, meta=batch.meta)


def _state(store: Store) -> dict[str, Any]:
    """Everything a reader of the store sees of its readings."""
    gpu_nodes = {entity.parent for entity in store.of_kind("gpu")}
    return {
        "readings": {
            (ref, metric): (r.time, r.value, r.rate, r.seen, r.source)
            for ref, metric, r in store.readings()
        },
        "history": {
            (ref, metric): store.timed_history(ref, metric) or store.history(ref, metric)
            for ref, metric, _ in store.readings()
        },
        "totals": {
            (node, metric): store.gpu_total(node, metric)
            for node in [FLEET, *gpu_nodes]
            for metric in ("gpu.power", "gpu.power_limit")
        },
        "series": store.series_count("sim"),
    }


@pytest.mark.parametrize(
    ("scenario", "cap"), [("congested-link", 10_000), ("xid-error", 10_000), ("xid-error", 900)]
)
async def test_columns_and_samples_make_the_same_store(scenario: str, cap: int) -> None:
    columns = SimSource(Simulation(scenario, seed=3, nodes=6, onset=-60), 1.0)
    samples = SimSource(Simulation(scenario, seed=3, nodes=6, onset=-60), 1.0)
    by_column, by_sample = Store(), Store()
    for tick in range(4):  # counters get rates from the second poll on
        batch, same = await columns.poll(), _as_samples(await samples.poll())
        assert batch.columns and not same.columns
        assert batch.reading_count() == same.reading_count() > 1000
        received = NOW + tick
        refused = []
        for store, each in ((by_column, batch), (by_sample, same)):
            checked = check_batch(each)
            admit(checked, received, simulated_clock=True)
            refused.append(store.apply(checked, "sim", received, max_series=cap))
        assert refused[0] == refused[1] and (refused[0] > 0) == (cap < 1000)
        moved_c, moved_s = by_column.moved(), by_sample.moved()
        assert moved_c.readings == moved_s.readings and moved_c.fresh == moved_s.fresh
        assert moved_c.readings  # something moved: the comparison compares something
        changes_c, changes_s = by_column.take_changes(), by_sample.take_changes()
        assert changes_c.readings == changes_s.readings
    assert _state(by_column) == _state(by_sample)
    rates = [r.rate for _, metric, r in by_column.readings() if metric == "port.tx_bytes"]
    assert any(rate for rate in rates)  # counters became rates, the same both ways
    assert by_column.gpu_total(None, "gpu.power")


def test_columns_that_keep_their_refs_make_the_same_store_as_samples_when_series_go() -> None:
    # An agent's stream sends the same refs lists every poll: the store finds their
    # series once and keeps them, until a series goes (here: an entity removed).
    gpus, ports = ["gpu/n1/0", "gpu/n1/1"], ["port/n1/ib0"]
    entities = [Entity("node/n1", "n1"), *(Entity(ref, ref, "node/n1") for ref in gpus + ports)]
    by_column, by_sample = Store(), Store()
    for tick in range(5):
        batch = Batch(
            entities=list(entities),
            columns=[
                Column("gpu.util", gpus, [10.0 + tick, 20.0]),
                Column("gpu.power", gpus, [300.0 + tick, 200.0 - tick]),  # summed per node
                Column("port.tx_bytes", ports, [1000.0 * tick]),  # a counter: rates
            ],
            time=NOW + tick,
        )
        if tick == 2:  # a GPU goes, and comes back with the next poll
            assert by_column.remove(["gpu/n1/1"]) == by_sample.remove(["gpu/n1/1"])
        by_column.apply(batch, "agent", NOW + tick)
        by_sample.apply(_as_samples(batch), "agent", NOW + tick)
        assert by_column.moved().readings == by_sample.moved().readings
        by_column.take_changes(), by_sample.take_changes()
    assert _state(by_column) == _state(by_sample)
    assert by_column.history("gpu/n1/1", "gpu.util") == [20.0, 20.0, 20.0]  # since it came back
    assert by_column.gpu_total("node/n1", "gpu.power") == 304.0 + 196.0
    assert by_column.value("port/n1/ib0", "port.tx_bytes") == 1000.0


@pytest.mark.parametrize("event", ["none", "derived", "restored", "sample", "reshaped"])
def test_columns_sent_again_make_the_same_store_as_samples_past_the_history(event: str) -> None:
    # Columns a source sends again (the same lists) land through its plan, their history
    # in one block: past the history length, with Nones, a counter that resets, a summed
    # gauge, a timed series beside them, and at tick 6 a point for one series alone.
    gpus, nodes, jobs = ["gpu/n1/0", "gpu/n1/1"], ["node/n1"], ["job/1"]
    entities = [Entity("node/n1", "n1"), *(Entity(ref, ref, "node/n1") for ref in gpus)]
    by_column, by_sample = Store(history=4), Store(history=4)
    for tick in range(12):
        batch = Batch(
            entities=list(entities),
            columns=[
                Column("gpu.util", gpus, [float(tick % 3), None if tick % 4 == 1 else 50.0]),
                Column("gpu.power", gpus, [300.0 + tick, 200.0]),
                Column("gpu.energy", gpus, [1000.0 * tick, 5.0 if tick == 7 else 10.0 * tick]),
                Column("node.cpu_util", nodes, [float(tick)]),
                Column("job.throughput", jobs, [100.0 + tick]),
            ],
            time=NOW + tick,
        )
        if tick == 6 and event == "sample":
            batch.samples.append(Sample("gpu/n1/0", "gpu.util", 7.0, NOW + tick - 0.5))
        if tick == 6 and event == "reshaped":
            batch.columns.pop(3)
        if tick == 6 and event == "derived":
            by_column.record("gpu/n1/0", "gpu.util", 99.0, NOW + tick - 0.5)
            by_sample.record("gpu/n1/0", "gpu.util", 99.0, NOW + tick - 0.5)
        if tick == 6 and event == "restored":
            for store in (by_column, by_sample):
                store.restore_history("gpu/n1/1", "gpu.power", [(NOW, 1.0), (NOW + 1, 2.0)])
        if tick == 5:  # the path under test is taken (a plan from the third poll on)
            assert "agent" in by_column._plans
        by_column.apply(batch, "agent", NOW + tick)
        by_sample.apply(_as_samples(batch), "agent", NOW + tick)
        assert by_column.moved().readings == by_sample.moved().readings
        by_column.take_changes(), by_sample.take_changes()
        assert _state(by_column) == _state(by_sample)
    assert by_column.history("gpu/n1/1", "gpu.util") == [50.0, None, 50.0, 50.0]
    assert by_column.gpu_total("node/n1", "gpu.power") == 311.0 + 200.0


def test_whole_number_gauges_are_kept_in_four_bytes_and_read_back_the_same() -> None:
    # Temperatures and MiB are whole numbers: their history takes half the memory, and a
    # reader sees what came, also once a fraction comes and the block turns to 8 bytes.
    gpus = ["gpu/n1/0", "gpu/n1/1"]
    by_column, by_sample = Store(history=4), Store(history=4)
    for tick in range(8):
        temps = [40.0 + tick, 60.3 if tick == 6 else 2.0**24]
        batch = Batch(
            columns=[
                Column("gpu.util", gpus, [12.5, 50.0]),  # a fraction: 8 bytes from the start
                Column("gpu.temp", gpus, temps),
                Column("gpu.mem_used", gpus, [61000.0, None]),
                Column("gpu.energy", gpus, [1000.0 * tick, 10.0 * tick]),  # rates
            ],
            time=NOW + tick,
        )
        by_column.apply(batch, "agent", NOW + tick)
        by_sample.apply(_as_samples(batch), "agent", NOW + tick)
        assert _state(by_column) == _state(by_sample)
        if tick == 5:
            block = by_column._plans["agent"].block
            assert block._small.itemsize == 4 and len(block._small) == 4 * 4  # 2 columns
    assert block._small.itemsize == 8  # 60.3 came (60.5 would not: 4 bytes hold it)
    assert by_column.history("gpu/n1/1", "gpu.temp") == [2.0**24, 2.0**24, 60.3, 2.0**24]
    assert by_column.history("gpu/n1/0", "gpu.util") == [12.5] * 4


def test_a_poll_after_restored_readings_lands_whole_through_a_plan() -> None:
    # A plan compares each poll with the last one's values: readings put back under it
    # (a recording's seek) must not leave it comparing with what is no longer there.
    gpus = ["gpu/n1/0", "gpu/n1/1"]
    store = Store(history=4)

    def poll(tick: int) -> None:
        batch = Batch(columns=[Column("gpu.temp", gpus, [40.0, 50.0])], time=NOW + tick)
        store.apply(batch, "agent", NOW + tick)

    for tick in range(3):
        poll(tick)
    assert "agent" in store._plans
    store.restore_readings([(("gpu/n1/0", "gpu.temp"), (NOW + 2, 99.5, None))])
    poll(3)  # the same values again: they must land, and over 99.5 too
    assert store.value("gpu/n1/0", "gpu.temp") == 40.0
    assert store.history("gpu/n1/0", "gpu.temp")[-1] == 40.0
    assert ("gpu/n1/0", "gpu.temp") in store.moved().readings


def test_a_repeated_ref_of_a_summed_metric_moves_the_totals_as_samples_do() -> None:
    refs = ["gpu/n1/0", "gpu/n1/0"]  # the same list each poll: the store keeps what it found
    by_column, by_sample = Store(), Store()
    for tick, values in enumerate(([100.0, 200.0], [300.0, 250.0], [50.0, 400.0])):
        batch = Batch(columns=[Column("gpu.power", refs, values, [NOW + tick, NOW + tick + 0.5])])
        by_column.apply(batch, "s", NOW + tick)
        by_sample.apply(_as_samples(batch), "s", NOW + tick)
    assert by_column.gpu_total("node/n1", "gpu.power") == 400.0
    assert _state(by_column) == _state(by_sample)


def test_the_caps_refuse_the_same_series_from_columns_as_from_samples() -> None:
    refs = [f"gpu/n1/{i}" for i in range(10)]
    batch = Batch(
        columns=[Column("gpu.util", refs, [1.0] * 10), Column("gpu.temp", refs, [40.0] * 10)]
    )
    by_column, by_sample = Store(), Store()
    assert by_column.apply(batch, "s", NOW, max_series=15) == 5
    assert by_sample.apply(_as_samples(batch), "s", NOW, max_series=15) == 5
    assert sorted((ref, m) for ref, m, _ in by_column.readings()) == sorted(
        (ref, m) for ref, m, _ in by_sample.readings()
    )
    assert by_column.series_count("s") == 15


def test_a_column_s_repeated_ref_lands_in_time_order_with_its_own_times() -> None:
    store = Store()
    history = Column("job.throughput", ["job/1"] * 3, [10.0, 11.0, None], [NOW - 2, NOW - 1, NOW])
    store.apply(Batch(columns=[history]), "s", NOW)
    assert store.timed_history("job/1", "job.throughput") == [
        (NOW - 2, 10.0), (NOW - 1, 11.0), (NOW, None)
    ]  # fmt: skip


def test_a_well_formed_column_passes_and_numbers_become_floats() -> None:
    column = Column("gpu.util", ["gpu/n1/0", "gpu/n1/1", "gpu/n1/2"], [5, math.nan, None])
    timed = Column("gpu.temp", ["gpu/n1/0"], [40.0], [NOW])
    odd = Column("gpu.temp", ["gpu/a\0/0", "gpu//x", "gpu/\0"], [1.0, 2.0, 3.0])  # refs still
    check_batch(Batch(columns=[column, timed, odd]))
    assert column.values == [5.0, None, None] and type(column.values[0]) is float
    assert timed.times == [NOW]


@pytest.mark.parametrize(
    ("column", "reason"),
    [
        (Sample("gpu/n1/0", "gpu.util", 1.0), "columns[0]: Sample, not a Column"),
        (Column(3, [], []), "columns[0]: metric must be a string, not int"),  # type: ignore[arg-type]
        (Column("gpu.util", ("gpu/a/0",), [1.0]), "columns[0] (gpu.util): refs, values and"),  # type: ignore[arg-type]
        (Column("gpu.util", ["gpu/a/0", "gpu/a/1"], [1.0]),
         "columns[0] (gpu.util): 2 refs, 1 values: one each per reading"),
        (Column("gpu.util", ["gpu/a/0"], [1.0], [NOW, NOW]), "1 refs, 1 values, 2 times"),
        (Column("gpu.util", ["gpu/a/0", "gpuA"], [1.0, 2.0]),
         "columns[0] (gpu.util) refs[1]: ref 'gpuA' is not <kind>/<id>"),
        (Column("gpu.util", ["gpu/a/0", 7], [1.0, 2.0]),  # type: ignore[list-item]
         "columns[0] (gpu.util) refs[1]: ref must be a string, not int"),
        (Column("gpu.util", ["gpu/a/0", "gpu/a/1"], [1.0, "12 %"]),  # type: ignore[list-item]
         "columns[0] (gpu.util) values[1] (gpu/a/1): value '12 %' is not a number (or None)"),
        (Column("gpu.util", ["gpu/a/0"], [True]),  # type: ignore[list-item]
         "columns[0] (gpu.util) values[0] (gpu/a/0): value True is not a number"),
        (Column("gpu.util", ["gpu/a/0"], [1.0], ["noon"]),  # type: ignore[list-item]
         "columns[0] (gpu.util) times[0] (gpu/a/0): value 'noon' is not a number"),
    ],
)  # fmt: skip
def test_a_bad_column_is_refused_with_what_and_where(column: object, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_batch(Batch(columns=[column]))  # type: ignore[list-item]
    assert str(refused.value).startswith("columns[0]") and reason in str(refused.value)
    good = Column("gpu.temp", ["gpu/a/0"], [40.0])
    with pytest.raises(ValueError, match=r"^columns\[1\]"):  # the place is counted
        check_batch(Batch(columns=[good, column]))  # type: ignore[list-item]


def test_the_intake_refuses_a_column_of_an_unknown_metric_and_keeps_the_rest() -> None:
    batch = Batch(columns=[Column("gpu.invented", ["gpu/a/0", "gpu/a/1"], [1.0, 2.0]),
                           Column("gpu.util", ["gpu/a/0"], [1.0])])  # fmt: skip
    notes = admit(batch, NOW)
    assert notes == [
        "refused 2 samples of 1 unknown metric names (e.g. 'gpu.invented': not in the "
        "vocabulary nor a plugin's metrics)"
    ]
    assert [column.metric for column in batch.columns] == ["gpu.util"]


def test_the_intake_reads_column_times_as_it_reads_sample_times() -> None:
    ahead = Column("gpu.util", ["gpu/a/0", "gpu/a/1"], [1.0, 2.0], [NOW + 30, None])
    admit(Batch(columns=[ahead]), NOW)
    assert ahead.times == [NOW, None]  # a source ahead of the console's clock cannot move it
    played = Column("gpu.util", ["gpu/a/0"], [1.0], [NOW + 30])
    admit(Batch(columns=[played]), NOW, simulated_clock=True)
    assert played.times == [NOW + 30]
    for time, message in ((1e300, "years from the console's clock"), (math.inf, "not a finite")):
        absurd = Column("gpu.util", ["gpu/a/0", "gpu/a/1"], [1.0, 2.0], [NOW, time])
        with pytest.raises(IntakeError, match=f"time of gpu/a/1 gpu.util .*{message}"):
            admit(Batch(columns=[absurd]), NOW)


class Columns(Source):
    """One poll: a long column, and small ones (a relay's cycle of a large fleet)."""

    name = type = "columns"

    async def poll(self) -> Batch:
        count = 2 * APPLY_SLICE + 17
        refs = [f"gpu/n{i}/0" for i in range(count)]
        return Batch(
            entities=[Entity(ref, "GPU 0") for ref in refs],
            columns=[
                Column("gpu.util", refs, [float(i) for i in range(count)]),
                *(Column(metric, refs[:10], [1.0] * 10) for metric in ("gpu.temp", "gpu.power")),
            ],
        )


async def test_an_engine_merges_long_columns_in_slices_and_all_of_it_lands() -> None:
    engine = Engine(Store(), [Columns()])
    applied: list[int] = []
    apply = engine.store.apply

    def counted(batch: Batch, *args: Any) -> int:
        applied.append(batch.reading_count())
        return apply(batch, *args)

    engine.store.apply = counted  # type: ignore[method-assign]
    await engine.collect(1)
    assert engine.statuses()[0].status == "ok"
    assert len(list(engine.store.readings())) == 2 * APPLY_SLICE + 17 + 20
    assert engine.store.value("gpu/n10016/0", "gpu.util") == 10016.0
    assert max(applied) <= APPLY_SLICE and len([n for n in applied if n]) == 3


def test_a_source_that_grows_the_refs_list_it_sends_again_loses_no_reading() -> None:
    # A plugin may keep one list of its GPUs and append to it: the same list object,
    # a longer one; what the store kept for the list before is not what it holds now.
    gpus = ["gpu/n1/0"]
    store = Store()
    for tick in range(6):
        if tick == 4:
            gpus.append("gpu/n1/1")  # the list sent before, grown in place
        entities = [Entity(ref, ref, None) for ref in gpus]
        values = [10.0 + tick] * len(gpus)
        batch = Batch(entities=entities, columns=[Column("gpu.util", gpus, values)])
        store.apply(batch, "plugin", NOW + tick)
    assert store.value("gpu/n1/1", "gpu.util") == 15.0
    assert store.history("gpu/n1/1", "gpu.util") == [14.0, 15.0]
    assert store.history("gpu/n1/0", "gpu.util") == [10.0 + t for t in range(6)]


def _polls(ticks: int, gpus: list[str]) -> list[Batch]:
    """A source's polls that send the same lists every time (a plan's, from the third)."""
    entities = [Entity("node/n1", "n1"), *(Entity(ref, ref, "node/n1") for ref in gpus)]
    return [
        Batch(
            entities=list(entities),
            columns=[
                Column("gpu.util", gpus, [10.0 + tick, 20.0]),
                Column("gpu.power", gpus, [300.0, 200.0 + tick]),
                Column("gpu.energy", gpus, [1000.0 * tick, 10.0 * tick]),  # a counter
            ],
            time=NOW + tick,
        )
        for tick in range(ticks)
    ]


def test_a_cycle_s_changes_name_every_reading_a_plan_landed_unread_until_then() -> None:
    # Two polls a cycle, nobody asking what moved in between: the keys a plan lands (and
    # those it moved) are said by the cycle's changes all the same, as the samples' are;
    # a GPU removed and back in the cycle with its series refused by the cap is no change.
    gpus = ["gpu/n1/0", "gpu/n1/1"]
    by_column, by_sample = Store(), Store()
    for tick, batch in enumerate(_polls(10, gpus)):
        cap = 3 if tick == 7 else 6  # tick 7: gpu/n1/1's three series come back refused
        if tick == 7:
            for store in (by_column, by_sample):
                store.remove(["gpu/n1/1"])
        by_column.apply(batch, "agent", NOW + tick, cap)
        by_sample.apply(_as_samples(batch), "agent", NOW + tick, cap)
        if tick % 2:
            assert tick < 5 or "agent" in by_column._plans or tick == 7
            if tick in (5, 9):  # what moved, asked for the first time after both polls
                assert by_column.moved().readings == by_sample.moved().readings
            changes_c, changes_s = by_column.take_changes(), by_sample.take_changes()
            assert changes_c.readings == changes_s.readings
            assert len(changes_c.readings) == (3 if tick == 7 else 6)


def test_what_moved_handed_out_stays_live_while_plans_land() -> None:
    # ``moved()`` hands out the store's own sets: a poll that lands after it (through
    # its source's plan) is in them at once, as a sample's reading is.
    gpus = ["gpu/n1/0", "gpu/n1/1"]
    store = Store()
    polls = _polls(6, gpus)
    for tick, batch in enumerate(polls[:4]):
        store.apply(batch, "agent", NOW + tick)
    store.take_changes()
    moved = store.moved()
    assert not moved.fresh
    store.apply(polls[4], "agent", NOW + 4)
    assert "agent" in store._plans  # the plan's path
    assert moved.fresh == {(ref, metric) for ref in gpus for metric in
                           ("gpu.util", "gpu.power", "gpu.energy")}  # fmt: skip
    # gpu/n1/0's util and gpu/n1/1's power move each poll (the energy's rate stays)
    assert moved.readings == {("gpu/n1/0", "gpu.util"), ("gpu/n1/1", "gpu.power")}
    assert store.take_changes().readings == moved.fresh


@pytest.mark.parametrize("nodes", [["n1"], ["n1", "n2"]])
def test_a_plan_s_summed_columns_move_the_totals_as_samples_do(nodes: list[str]) -> None:
    # One node's column (an agent's) moves its totals by the difference of the sums,
    # others reading by reading: the same totals either way, with a reading not
    # available now and then.
    gpus = [f"gpu/{node}/{i}" for node in nodes for i in range(3)]
    entities = [*(Entity(f"node/{n}", n) for n in nodes), *(Entity(g, g) for g in gpus)]
    by_column, by_sample = Store(), Store()
    for tick in range(12):
        power: list[float | None] = [300.0 + tick * at / 3 for at in range(len(gpus))]
        if tick in (5, 6, 9):
            power[1] = None
        batch = Batch(entities=list(entities), columns=[Column("gpu.power", gpus, power)],
                      time=NOW + tick)  # fmt: skip
        by_column.apply(batch, "agent", NOW + tick)
        by_sample.apply(_as_samples(batch), "agent", NOW + tick)
        if tick == 4:
            assert "agent" in by_column._plans  # the path under test
        for node in (FLEET, *(f"node/{n}" for n in nodes)):
            total = by_column.gpu_total(node, "gpu.power")
            assert total == by_sample.gpu_total(node, "gpu.power")
    last = sum(300.0 + 11 * at / 3 for at in range(len(gpus)))
    assert by_column.gpu_total(FLEET, "gpu.power") == pytest.approx(last, abs=1e-5)


def test_a_reading_too_large_for_the_totals_counts_as_none_there_and_the_rest_lands() -> None:
    # A lying agent's 1e305 W is finite (the wire takes it) but its millionths are not:
    # it counts in no total, as an infinity does, and its batch lands whole, by column
    # and by samples alike, poll after poll and when it comes back to earth.
    gpus = ["gpu/n1/0", "gpu/n1/1"]
    entities = [Entity("node/n1", "n1"), *(Entity(g, g) for g in gpus)]
    by_column, by_sample = Store(), Store()
    for tick, lie in enumerate((1e305, 1e305, 200.0)):
        columns = [Column("gpu.power", gpus, [lie, 300.0]), Column("gpu.temp", gpus, [50.0, 51.0])]
        batch = Batch(entities=list(entities), columns=columns, time=NOW + tick)
        by_column.apply(batch, "agent", NOW + tick)
        by_sample.apply(_as_samples(batch), "agent", NOW + tick)
        for store in (by_column, by_sample):
            assert store.value("gpu/n1/1", "gpu.temp") == 51.0
            total = store.gpu_total("node/n1", "gpu.power")
            assert total == pytest.approx(300.0 if lie > 1e300 else 500.0)
        restored = Store()
        readings = {(ref, metric): reading for ref, metric, reading in by_sample.readings()}
        listed = list(by_sample.entities.values())
        restored.restore_fleet(listed, ["agent"] * len(listed), NOW + tick, readings)
        assert restored.gpu_total(FLEET, "gpu.power") == by_sample.gpu_total(FLEET, "gpu.power")


@pytest.mark.parametrize("timed", [False, True])
def test_a_column_of_new_series_is_made_at_once_and_lands_as_samples_do(timed: bool) -> None:
    # A first poll is all new series: each column's are made in one step, with the one
    # point each holds and no ring of its own until the next (a relay's columns carry
    # their times: ``timed``). What a reader sees is what samples make, poll after poll.
    gpus, ports = ["gpu/n1/0", "gpu/n1/1", "gpu/n2/0"], ["port/n1/ib0"]
    by_column, by_sample = Store(history=3, longer={"gpu.temp": 5}), Store(history=3)
    by_sample.longer = {"gpu.temp": 5}
    for tick in range(4):
        times = [NOW + tick - 0.5] * 3 if timed else None
        batch = Batch(
            columns=[
                Column("gpu.temp", gpus, [40.0 + tick, None, 61.5], times),
                Column("gpu.power", gpus, [300.0 + tick, 200.0, 100.0], times),  # summed
                Column("port.tx_bytes", ports, [1000.0 * tick]),  # a counter: rates
            ],
            time=NOW + tick,
        )
        by_column.apply(batch, "agent", NOW + tick)
        by_sample.apply(_as_samples(batch), "agent", NOW + tick)
        if tick == 0:
            keys = [(ref, metric) for ref, metric, _ in by_column.readings()]
            assert {type(by_column._history[key]) for key in keys} == {FirstPoint}
            assert by_column.history("port/n1/ib0", "port.tx_bytes") == [None]  # no rate yet
        assert by_column.moved().readings == by_sample.moved().readings
        assert by_column.take_changes() == by_sample.take_changes()
        assert _state(by_column) == _state(by_sample)
    assert by_column.history("gpu/n1/0", "gpu.temp") == [40.0, 41.0, 42.0, 43.0]
    assert by_column.history("port/n1/ib0", "port.tx_bytes") == [1000.0] * 3
    assert by_column.gpu_total("node/n1", "gpu.power") == 303.0 + 200.0
    assert by_column.gpu_total(None, "gpu.power") == 303.0 + 200.0 + 100.0


def test_a_column_with_one_series_there_already_lands_a_reading_at_a_time() -> None:
    # Made at once only when none of a column's series exists: here one does, and the
    # rest are made the general way, as samples make them.
    refs = ["gpu/n1/0", "gpu/n1/1"]
    by_column, by_sample = Store(), Store()
    for store in (by_column, by_sample):
        store.apply(Batch(samples=[Sample("gpu/n1/1", "gpu.util", 5.0, NOW)]), "s", NOW)
    batch = Batch(columns=[Column("gpu.util", refs, [1.0, 2.0])], time=NOW + 1)
    by_column.apply(batch, "s", NOW + 1)
    by_sample.apply(_as_samples(batch), "s", NOW + 1)
    assert _state(by_column) == _state(by_sample)
    assert by_column.history("gpu/n1/1", "gpu.util") == [5.0, 2.0]


def test_no_cyclic_collection_walks_the_heap_while_a_column_s_series_are_made() -> None:
    # Each series is objects that live on: a collection while they are made is waste
    # (at 4,000 nodes the cyclic collector took half the first poll's merge), so the
    # collector is off meanwhile.
    refs = [f"gpu/n{i // 8}/{i % 8}" for i in range(20_000)]
    during: list[str] = []

    def collecting(phase: str, info: dict[str, int]) -> None:
        frame = sys._getframe(1)
        while frame is not None:
            if phase == "start" and frame.f_code.co_name == "_record_new_column":
                during.append(phase)
            frame = frame.f_back

    store = Store()
    gc.callbacks.append(collecting)
    try:
        store.apply(Batch(columns=[Column("gpu.util", refs, [1.0] * len(refs))]), "s", NOW)
    finally:
        gc.callbacks.remove(collecting)
    assert store.series_count("s") == 20_000 and gc.isenabled()
    assert len(during) <= 1  # the one due, once it is on again (else one per 700 objects)


def _young() -> set[int]:
    return {id(item) for generation in (0, 1) for item in gc.get_objects(generation)}


def test_a_long_column_s_new_series_and_rings_are_left_out_of_the_young_generations() -> None:
    # What a long column makes to keep (its series; then the arrays of its first points
    # become rings with) goes to the oldest generation: left young, every middle pass on
    # the UI's loop walked them again. A short column's are left to the young passes.
    refs = [f"gpu/n{i // 8}/{i % 8}" for i in range(LONG_LIVED_COLUMN)]
    short = refs[: LONG_LIVED_COLUMN // 2]
    store = Store()
    thresholds = gc.get_threshold()
    gc.set_threshold(0)  # no automatic pass: where they are is where the merge left them
    try:
        for tick in range(2):
            batch = Batch(
                columns=[
                    # New lists each poll, as a mirror decodes them (no plan: no block).
                    Column("gpu.util", [*refs], [float(tick)] * len(refs)),
                    Column("gpu.temp", [*short], [40.0 + tick] * len(short)),
                ]
            )
            store.apply(batch, "console", NOW + tick)
            long_made = [store.reading(ref, "gpu.util") for ref in refs]
            long_made += [store._history[ref, "gpu.util"] for ref in refs]
            young = _young()
            assert not young.intersection(map(id, long_made))
            if tick == 1:  # the arrays its first points became rings with
                arrays = [store._history[ref, "gpu.util"]._values for ref in refs]
                assert not young.intersection(map(id, arrays))
                assert store.history(refs[0], "gpu.util") == [0.0, 1.0]
            else:  # (the short column lands after the long one)
                short_made = [store.reading(ref, "gpu.temp") for ref in short]
                assert set(map(id, short_made)) <= young
            gc.collect()  # (a full pass: what the next poll makes is all that is young)
    finally:
        gc.set_threshold(*thresholds)
    assert gc.isenabled()


def test_a_new_timed_series_sent_as_its_history_lands_whole_as_its_samples_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A relay sends each job's history as a line of one ref: its ring is filled at once
    # (past the ten minutes a timed ring keeps), not a reading at a time.
    count = 650
    values: list[float | None] = [100.0 + i for i in range(count)]
    values[300], values[-1] = None, None
    times: list[float | None] = [NOW - count + i for i in range(count)]
    history = Column("job.throughput", ["job/1"] * count, values, times)
    batch = Batch(columns=[history, Column("job.gpu_util", ["job/1"] * 2, [1.0, 2.0])], time=NOW)
    by_sample = Store()
    by_sample.apply(_as_samples(batch), "console", NOW)
    by_column, recorded = Store(), []
    record = Store._record
    monkeypatch.setattr(Store, "_record", lambda self, *a: recorded.append(a) or record(self, *a))
    by_column.apply(batch, "console", NOW)
    assert recorded == []
    assert by_column.moved().readings == by_sample.moved().readings
    assert _state(by_column) == _state(by_sample)
    points = by_column.timed_history("job/1", "job.throughput")
    assert len(points) == 600 and points[-1] == (NOW - 1, None)
    assert by_column.timed_history("job/1", "job.gpu_util") == [(NOW, 1.0), (NOW, 2.0)]
