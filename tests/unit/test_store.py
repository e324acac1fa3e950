"""The store: latest values, counters turned into rates, bounded history."""

from __future__ import annotations

import pytest

from console.core.model import Batch, Entity, Sample
from console.core.store import Reading, Store


def _batch(time: float, value: float, metric: str = "port.tx_bytes") -> Batch:
    return Batch(
        entities=[Entity("port/n1/mlx5_0", "n1:mlx5_0", parent="node/n1")],
        samples=[Sample("port/n1/mlx5_0", metric, value)],
        time=time,
    )


def test_counter_becomes_a_rate_in_the_store() -> None:
    store = Store()
    store.apply(_batch(100.0, 1_000.0), "s", received=100.0)
    assert store.value("port/n1/mlx5_0", "port.tx_bytes") is None  # one reading: no rate yet
    store.apply(_batch(102.0, 5_000.0), "s", received=102.0)
    assert store.value("port/n1/mlx5_0", "port.tx_bytes") == 2_000.0
    reading = store.reading("port/n1/mlx5_0", "port.tx_bytes")
    assert reading is not None and reading.value == 5_000.0  # the raw count is kept
    assert store.history("port/n1/mlx5_0", "port.tx_bytes") == [None, 2_000.0]


def test_counter_reset_gives_no_rate_rather_than_a_negative_one() -> None:
    store = Store()
    store.apply(_batch(100.0, 9_000.0), "s", received=100.0)
    store.apply(_batch(101.0, 10.0), "s", received=101.0)  # agent restarted
    assert store.value("port/n1/mlx5_0", "port.tx_bytes") is None
    store.apply(_batch(102.0, 110.0), "s", received=102.0)
    assert store.value("port/n1/mlx5_0", "port.tx_bytes") == 100.0


def test_gauge_history_is_bounded_however_long_it_runs() -> None:
    store = Store(history=50)
    for tick in range(10_000):
        store.apply(_batch(float(tick), float(tick % 100), "gpu.util"), "s", received=float(tick))
    assert len(store.history("port/n1/mlx5_0", "gpu.util")) == 50
    assert store.history_points() == 50
    assert store.history("port/n1/mlx5_0", "gpu.util")[-1] == 99.0


def test_expire_forgets_entities_and_their_history() -> None:
    store = Store()
    store.apply(_batch(1.0, 1.0, "gpu.util"), "s", received=1.0)
    store.apply(
        Batch(entities=[Entity("node/n2", "n2")], samples=[Sample("node/n2", "node.load1", 1.0)]),
        "s",
        received=500.0,
    )
    gone = store.expire(before=100.0)
    assert gone == ["port/n1/mlx5_0"]
    assert store.get("port/n1/mlx5_0") is None
    assert store.history("port/n1/mlx5_0", "gpu.util") == []
    assert store.children("node/n1") == []
    assert store.get("node/n2") is not None


def test_not_available_is_kept_as_none_not_zero() -> None:
    store = Store()
    store.apply(_batch(1.0, 0.0, "gpu.util"), "s", received=1.0)
    store.apply(
        Batch(samples=[Sample("port/n1/mlx5_0", "gpu.fan", None)], time=2.0), "s", received=2.0
    )
    assert store.value("port/n1/mlx5_0", "gpu.fan") is None
    assert store.reading("port/n1/mlx5_0", "gpu.fan") is not None


def test_entities_sort_naturally() -> None:
    store = Store()
    refs = [f"gpu/node01/{i}" for i in (10, 2, 1)]
    store.apply(Batch(entities=[Entity(r, r, parent="node/node01") for r in refs]), "s", 1.0)
    assert [e.ref for e in store.of_kind("gpu")] == [
        "gpu/node01/1",
        "gpu/node01/2",
        "gpu/node01/10",
    ]
    assert [e.ref for e in store.children("node/node01", "gpu")][-1] == "gpu/node01/10"


def test_two_sources_describing_one_entity_keep_both_descriptions() -> None:
    store = Store()
    store.apply(Batch(entities=[Entity("node/n1", "n1", attrs={"cpus": 64})]), "host", 1.0)
    store.apply(Batch(entities=[Entity("node/n1", "n1", attrs={"gpus": 8})]), "nvml", 1.0)
    assert store.get("node/n1").attrs == {"cpus": 64, "gpus": 8}  # type: ignore[union-attr]
    store.apply(Batch(entities=[Entity("node/n1", "n1", attrs={"cpus": 32})]), "host", 2.0)
    assert store.get("node/n1").attrs == {"cpus": 32, "gpus": 8}  # type: ignore[union-attr]


def test_children_and_kinds_follow_what_sources_report() -> None:
    """Orders are cached; what is reported (new objects, new and gone children) is not."""
    store = Store()
    gpus = [Entity(f"gpu/n1/{i}", f"GPU {i}", "node/n1", {"v": 1}) for i in (2, 10, 1)]
    store.apply(Batch(entities=[Entity("node/n1", "n1"), *gpus]), "s", 1.0)
    assert [e.ref for e in store.children("node/n1")] == ["gpu/n1/1", "gpu/n1/2", "gpu/n1/10"]
    store.apply(Batch(entities=[Entity("gpu/n1/2", "GPU 2", "node/n1", {"v": 2})]), "s", 2.0)
    assert store.children("node/n1")[1].attrs == {"v": 2}  # the new object, not the cached one
    assert store.of_kind("gpu")[1].attrs == {"v": 2}
    store.remove(["gpu/n1/1"])
    store.apply(Batch(entities=[Entity("gpu/n1/0", "GPU 0", "node/n1")]), "s", 3.0)
    assert [e.ref for e in store.children("node/n1")] == ["gpu/n1/0", "gpu/n1/2", "gpu/n1/10"]
    assert [e.ref for e in store.of_kind("gpu")] == ["gpu/n1/0", "gpu/n1/2", "gpu/n1/10"]


def test_a_kind_s_order_follows_refs_that_come_go_and_come_back_between_reads() -> None:
    """A few new refs are placed in the kept order, many make a new sort, gone ones are
    filtered out, and one gone and back is listed once: always the natural order."""
    import random

    from console.core.store import natural_sorted

    chance = random.Random(7)
    store = Store()
    known: set[str] = set()
    for step in range(300):
        if step % 50 == 0:  # now and then a whole rack of new GPUs at once
            fresh = {f"gpu/n{chance.randrange(200)}/{g}" for g in range(8)}
        else:
            fresh = {f"gpu/n{chance.randrange(200)}/{chance.randrange(8)}"}
        store.apply(Batch(entities=[Entity(ref, ref) for ref in fresh]), "s", float(step))
        known |= fresh
        if step % 3 == 0 and known:
            gone = chance.sample(sorted(known), k=min(len(known), chance.randrange(1, 4)))
            store.remove(gone)
            known -= set(gone)
            back = gone[:1]  # gone and back before the next read
            store.apply(Batch(entities=[Entity(ref, ref) for ref in back]), "s", float(step))
            known |= set(back)
        if step % 2 == 0:
            assert [e.ref for e in store.of_kind("gpu")] == natural_sorted(known)
    assert [e.ref for e in store.of_kind("gpu")] == natural_sorted(known)


def test_child_refs_of_a_kind_follow_children_as_they_come_and_go() -> None:
    """The refs a kind at a time, cached with the order, and dropped with it."""
    store = Store()
    children = [Entity("gpu/n1/1", "GPU 1", "node/n1"), Entity("port/n1/mlx5_0", "p", "node/n1")]
    store.apply(Batch(entities=[Entity("node/n1", "n1"), *children]), "s", 1.0)
    assert list(store.child_refs("node/n1", "gpu")) == ["gpu/n1/1"]
    assert list(store.child_refs("node/n1")) == ["gpu/n1/1", "port/n1/mlx5_0"]
    store.apply(Batch(entities=[Entity("gpu/n1/0", "GPU 0", "node/n1")]), "s", 2.0)
    assert list(store.child_refs("node/n1", "gpu")) == ["gpu/n1/0", "gpu/n1/1"]
    store.remove(["gpu/n1/1", "gpu/n1/0"])
    assert list(store.child_refs("node/n1", "gpu")) == [] and store.children("node/n1", "gpu") == []
    assert list(store.child_refs("node/n9", "gpu")) == []


def test_values_of_many_refs_are_value_of_each() -> None:
    """Gauges' values, counters' rates, None where a ref has no reading."""
    store = Store()
    for time, count in ((100.0, 1_000.0), (102.0, 5_000.0)):
        samples = [Sample("port/n1/a", "port.tx_bytes", count), Sample("port/n1/a", "port.up", 1)]
        store.apply(Batch(samples=samples), "s", received=time)
    refs = ["port/n1/a", "port/n1/none"]
    assert store.values(refs, "port.tx_bytes") == [2_000.0, None]
    assert store.values(refs, "port.up") == [1.0, None]
    assert store.values(refs, "port.tx_bytes") == [store.value(r, "port.tx_bytes") for r in refs]


def test_an_entity_sent_again_is_seen_again_and_one_that_moves_changes_parent() -> None:
    # Sent again in the same place (the common case, taken in fewer steps): the new
    # object is read everywhere and its time seen moves (expiry); sent under another
    # parent, it leaves the old one's children.
    store = Store()
    store.apply(Batch(entities=[Entity("node/n1", "n1"), Entity("node/n2", "n2")]), "s", 1.0)
    store.apply(Batch(entities=[Entity("gpu/n1/0", "GPU 0", "node/n1", {"v": 1})]), "s", 1.0)
    store.take_changes()
    again = Entity("gpu/n1/0", "GPU 0", "node/n1", {"v": 2})
    store.apply(Batch(entities=[again]), "s", 50.0)
    assert store.get("gpu/n1/0") is again and store.of_kind("gpu") == [again]
    assert store.children("node/n1") == [again] and store.count("gpu") == 1
    assert store.take_changes().entities == {"gpu/n1/0"}
    assert store.expire(before=10.0) == ["node/n1", "node/n2"]  # the GPU was seen at 50
    moved = Entity("gpu/n1/0", "GPU 0", "node/n2", {"v": 2})
    store.apply(Batch(entities=[moved]), "s", 60.0)
    assert store.children("node/n1") == [] and store.children("node/n2") == [moved]


def test_a_cycle_s_changes_are_what_moved() -> None:
    store = Store()
    node = Entity("node/n1", "n1", attrs={"rack": "r1"})
    store.apply(Batch(entities=[node], samples=[Sample("node/n1", "node.cpu", 5.0)]), "s", 1.0)
    first = store.take_changes()
    assert first.entities == {"node/n1"} and first.readings == {("node/n1", "node.cpu")}
    same = Entity("node/n1", "n1", attrs={"rack": "r1"})
    store.apply(Batch(entities=[same]), "s", 2.0)
    assert not store.take_changes()  # reported again, unchanged: nothing to send
    store.apply(Batch(entities=[Entity("node/n1", "n1", attrs={"rack": "r2"})]), "s", 3.0)
    assert store.take_changes().entities == {"node/n1"}
    store.apply(Batch(entities=[Entity("node/n1", "one", attrs={"rack": "r2"})]), "s", 4.0)
    assert store.take_changes().entities == {"node/n1"}  # renamed
    store.remove(["node/n1"])
    gone = store.take_changes()
    assert gone.removed == {"node/n1"} and not gone.entities


def test_of_kind_returns_the_entity_as_last_reported_not_as_first_sorted() -> None:
    # A source re-sends a link with a new state; every reader of of_kind must see it
    # (the sorted list used to keep the first objects it sorted).
    store = Store()
    store.apply(Batch(entities=[Entity("link/a~b", "a-b", attrs={"state": "ACTIVE"})]), "ib", 1.0)
    assert store.of_kind("link")[0].attrs["state"] == "ACTIVE"
    store.apply(Batch(entities=[Entity("link/a~b", "a-b", attrs={"state": "DOWN"})]), "ib", 2.0)
    assert store.of_kind("link")[0].attrs["state"] == "DOWN"


def test_an_unknown_from_one_source_never_erases_what_another_knows() -> None:
    store = Store()
    port = "port/n1/mlx4_0:1"
    store.apply(Batch(entities=[Entity(port, "p", attrs={"speed_gbps": 40.0})]), "host", 1.0)
    unknown = Entity(port, "p", attrs={"speed_gbps": None, "state": "ACTIVE"})
    store.apply(Batch(entities=[unknown]), "exporter", 1.0)
    assert store.get(port).attrs == {"speed_gbps": 40.0, "state": "ACTIVE"}  # type: ignore[union-attr]
    # What a source did not know before stays unknown until someone knows it.
    store.apply(Batch(entities=[Entity("node/n2", "n2", attrs={"cpus": None})]), "a", 1.0)
    store.apply(Batch(entities=[Entity("node/n2", "n2", attrs={"cpus": None})]), "b", 1.0)
    assert store.get("node/n2").attrs == {"cpus": None}  # type: ignore[union-attr]


def test_a_short_store_keeps_longer_history_only_for_the_metrics_named() -> None:
    store = Store(history=3, longer={"gpu.util": 5})
    for tick in range(20):
        store.apply(_batch(float(tick), float(tick), "gpu.util"), "s", received=float(tick))
        store.apply(_batch(float(tick), float(tick), "gpu.temp"), "s", received=float(tick))
    assert store.history("port/n1/mlx5_0", "gpu.util") == [15.0, 16.0, 17.0, 18.0, 19.0]
    assert store.history("port/n1/mlx5_0", "gpu.temp") == [17.0, 18.0, 19.0]


def test_gpu_totals_follow_every_reading_and_removal_without_walking_the_gpus() -> None:
    import random

    rng = random.Random(7)
    store = Store()
    gpus = [f"gpu/n{n}/{i}" for n in range(3) for i in range(4)]
    entities = [Entity(ref, ref, parent=f"node/{ref.split('/')[1]}") for ref in gpus]
    for tick in range(50):
        samples = [Sample(g, "gpu.power", rng.choice([None, rng.uniform(0, 700)])) for g in gpus]
        store.apply(Batch(entities=entities, samples=samples, time=float(tick)), "s", float(tick))
    for node in ("node/n0", "node/n1", "node/n2"):
        mine = [g for g in gpus if g.startswith(f"gpu/{node[5:]}/")]
        expected = sum(store.value(g, "gpu.power") or 0.0 for g in mine)
        assert store.gpu_total(node, "gpu.power") == pytest.approx(expected)
    fleet = sum(store.value(g, "gpu.power") or 0.0 for g in gpus)
    assert store.gpu_total(None, "gpu.power") == pytest.approx(fleet)
    store.remove([g for g in gpus if g.startswith("gpu/n1/")])
    assert store.gpu_total("node/n1", "gpu.power") is None  # no GPU there any more
    left = sum(store.value(g, "gpu.power") or 0.0 for g in gpus if not g.startswith("gpu/n1/"))
    assert store.gpu_total(None, "gpu.power") == pytest.approx(left)
    assert store.gpu_total("node/n0", "gpu.temp") is None  # only the summed metrics


def test_what_moved_tells_a_new_value_from_the_same_value_sent_again() -> None:
    store = Store()
    batch = Batch(samples=[Sample("node/n1", "node.cpu_util", 5.0)])
    store.apply(batch, "s", 1.0)
    assert ("node/n1", "node.cpu_util") in store.moved().readings  # new: moved
    store.forget_changes()
    store.apply(Batch(samples=[Sample("node/n1", "node.cpu_util", 5.0)]), "s", 2.0)
    moved = store.moved()
    assert not moved.readings and moved.fresh == {("node/n1", "node.cpu_util")}
    store.apply(Batch(samples=[Sample("node/n1", "node.cpu_util", 7.0)]), "s", 3.0)
    assert store.moved().readings == {("node/n1", "node.cpu_util")}
    # A counter moves when its rate does, not its count.
    for time, count in ((1.0, 100.0), (2.0, 110.0), (3.0, 120.0), (4.0, 140.0)):
        store.forget_changes()
        store.apply(Batch(samples=[Sample("port/n1/p1", "port.tx_bytes", count)]), "s", time)
        moved_now = ("port/n1/p1", "port.tx_bytes") in store.moved().readings
        assert moved_now == (time != 3.0), time  # new, 10/s, 10/s again, then 20/s
    store.forget_changes()
    store.touch("node/n1")  # no entity yet: nothing to say
    store.apply(Batch(entities=[Entity("node/n1", "n1")]), "s", 5.0)
    store.forget_changes()
    store.touch("node/n1")  # analysis changed it in place
    assert store.moved().entity("node/n1") and store.take_changes().entities == {"node/n1"}


def test_while_recording_a_cycle_s_changes_carry_its_batches_and_derived_readings() -> None:
    store = Store()
    store.apply(Batch(samples=[Sample("node/n1", "node.cpu_util", 5.0)]), "s", 1.0)
    assert store.take_changes().batches == ()  # nobody records: nothing kept
    store.journal = []
    batch = Batch(samples=[Sample("node/n1", "node.cpu_util", 6.0)], time=2.0)
    store.apply(batch, "s", 2.0)
    store.record("node/n1", "node.derived", 1.5, 2.0)
    changes = store.take_changes()
    assert changes.batches == (("s", batch, 2.0),)
    assert changes.derived == (("node/n1", "node.derived", 1.5, 2.0),)
    assert store.take_changes().batches == () and store.take_changes().derived == ()


def test_restore_fleet_is_the_store_restore_entity_and_adopt_readings_make() -> None:
    gpus = [f"gpu/n{n}/{i}" for n in range(3) for i in range(2)]
    entities = [Entity(f"node/n{n}", f"n{n}") for n in range(3)]
    entities += [Entity(ref, ref, parent=f"node/{ref.split('/')[1]}") for ref in gpus]
    entities.append(Entity("port/n0/mlx5_0", "mlx5_0", parent="node/n0"))
    sources = ["host" if e.ref.startswith("node/") else "nvml" for e in entities]
    values = [None, 100.0, 250.5, float("nan"), 300.0, 1e-7]

    def readings() -> dict[tuple[str, str], Reading]:
        made = {(g, "gpu.power"): Reading(5.0, v) for g, v in zip(gpus, values, strict=True)}
        made[("gpu/n1/0", "gpu.temp")] = Reading(5.0, 60.0)
        made[("port/n0/mlx5_0", "port.tx_bytes")] = Reading(5.0, 10.0, 2.0)
        return made

    one_by_one = Store()
    for entity, source in zip(entities, sources, strict=True):
        one_by_one.restore_entity(entity, source, 7.0)
    one_by_one.adopt_readings(readings())
    bulk = Store()
    assert bulk.of_kind("gpu") == [] and bulk.children("node/n0") == []  # read while empty
    bulk.restore_fleet(entities, sources, 7.0, readings())
    for kind in ("node", "gpu", "port"):
        assert bulk.of_kind(kind) == one_by_one.of_kind(kind)
    assert bulk.children("node/n0") == one_by_one.children("node/n0")
    assert [e.ref for e in bulk.children("node/n0")] == ["gpu/n0/0", "gpu/n0/1", "port/n0/mlx5_0"]
    assert bulk.entity_source == one_by_one.entity_source and bulk.last_seen == one_by_one.last_seen
    for node in (None, "node/n0", "node/n1", "node/n2"):
        assert bulk.gpu_total(node, "gpu.power") == one_by_one.gpu_total(node, "gpu.power")
    assert bulk.gpu_total("node/n2", "gpu.power") == pytest.approx(300.0 + 1e-7)
    assert bulk.gpu_total(None, "gpu.temp") is None  # only the summed metrics
    assert bulk.moved().entities == one_by_one.moved().entities
    assert bulk.value("port/n0/mlx5_0", "port.tx_bytes") == 2.0
    with pytest.raises(ValueError, match="fresh"):
        bulk.restore_fleet(entities, sources, 7.0, {})


def _fleet(moved: bool, dropped: bool) -> list[Entity]:
    entities = [Entity(f"node/n{n}", f"n{n}") for n in range(3)]
    entities += [
        Entity(f"gpu/n{n}/{i}", f"GPU {i}", f"node/n{n}") for n in range(3) for i in range(2)
    ]
    entities.append(Entity("switch/leaf1", "leaf1"))
    if moved:  # a GPU read under another node (its refs the same)
        entities[3] = Entity("gpu/n0/0", "GPU 0", "node/n2")
    if dropped:  # a node and its GPUs gone, a job come
        entities = [e for e in entities if "n1" not in e.ref] + [Entity("job/7", "train")]
    return entities


def test_a_fleet_shape_kept_from_fleet_to_fleet_groups_each_as_a_fresh_store_does() -> None:
    """A recording's reader keeps one :class:`FleetShape` for all its seeks: the
    grouping by kind and parent is reused only while the refs and parents are the
    same, and a fleet whose GPU moved or whose nodes went is grouped anew."""
    from console.core.store import FleetShape

    shape = FleetShape()
    for moved, dropped in ((False, False), (False, False), (True, False), (True, True),
                           (False, False)):  # fmt: skip
        entities = _fleet(moved, dropped)
        sources = ["s"] * len(entities)
        kept, fresh = Store(), Store()
        kept.restore_fleet(entities, sources, 7.0, {}, shape=shape)
        fresh.restore_fleet(entities, sources, 7.0, {})
        for kind in ("node", "gpu", "switch", "job"):
            assert kept.of_kind(kind) == fresh.of_kind(kind)
        for parent in ("node/n0", "node/n1", "node/n2"):
            assert kept.child_refs(parent) == fresh.child_refs(parent)
        assert kept.entities == fresh.entities
    assert kept.child_refs("node/n0") == ["gpu/n0/0", "gpu/n0/1"]
    moved = Store()
    moved.restore_fleet(_fleet(True, False), ["s"] * 10, 7.0, {}, shape=shape)
    assert moved.child_refs("node/n2") == ["gpu/n0/0", "gpu/n2/0", "gpu/n2/1"]
    assert moved.child_refs("node/n0") == ["gpu/n0/1"]
    moved.remove(["gpu/n0/1"])  # a store's own sets, not the shape's
    again = Store()
    again.restore_fleet(_fleet(True, False), ["s"] * 10, 7.0, {}, shape=shape)
    assert again.child_refs("node/n0") == ["gpu/n0/1"]


def test_a_fleet_shape_sorts_a_kind_again_only_when_its_members_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each restored store reads each kind in natural order at once: the shape sorted it
    once for its members, and a store placing a later entity in its own copy leaves the
    shape's order as it was for the next store."""
    from console.core import store as store_module
    from console.core.store import FleetShape

    sorted_refs: list[str] = []
    natural = store_module._natural
    monkeypatch.setattr(
        store_module, "_natural", lambda ref: sorted_refs.append(ref) or natural(ref)
    )
    shape = FleetShape()
    gpus = [Entity(f"gpu/n0/{i}", f"GPU {i}", "node/n0") for i in (10, 9, 1)]
    fleet = [Entity("node/n0", "n0"), *gpus]
    first = Store()
    first.restore_fleet(fleet, ["s"] * 4, 7.0, {}, shape=shape)
    assert [g.ref for g in first.of_kind("gpu")] == ["gpu/n0/1", "gpu/n0/9", "gpu/n0/10"]
    assert len(sorted_refs) == 4  # each kind sorted once, in the restore
    first.restore_entity(Entity("gpu/n0/2", "GPU 2", "node/n0"), "s", 8.0)
    assert [g.ref for g in first.of_kind("gpu")][:2] == ["gpu/n0/1", "gpu/n0/2"]
    sorted_refs.clear()
    second = Store()
    second.restore_fleet([*fleet[:3], Entity("gpu/n0/1", "GPU one", "node/n0")], ["s"] * 4,
                         9.0, {}, shape=shape)  # fmt: skip
    assert [g.ref for g in second.of_kind("gpu")] == ["gpu/n0/1", "gpu/n0/9", "gpu/n0/10"]
    assert second.get("gpu/n0/1").name == "GPU one"
    assert sorted_refs == []  # the same members: not sorted again
    third = Store()
    third.restore_fleet([*fleet, Entity("gpu/n0/0", "GPU 0", "node/n0")], ["s"] * 5, 9.0, {},
                        shape=shape)  # fmt: skip
    assert [g.ref for g in third.of_kind("gpu")][:2] == ["gpu/n0/0", "gpu/n0/1"]
    assert sorted(sorted_refs) == sorted(["gpu/n0/10", "gpu/n0/9", "gpu/n0/1", "gpu/n0/0"])
    assert [n.ref for n in third.of_kind("node")] == ["node/n0"]  # (kept: its members alike)


def test_restored_totals_are_the_sums_of_each_reading_s_millionths() -> None:
    """The bulk path rounds a column of floats at once (``float.__round__``) and one
    with any ``None``, NaN, infinity or too large a value one by one; both sum what
    the store's own reading-by-reading path sums."""
    gpus = [f"gpu/n0/{i}" for i in range(6)]
    entities = [Entity("node/n0", "n0"), *(Entity(g, g, "node/n0") for g in gpus)]
    for values in ([2.5e-6, 3.5e-6, 0.5e-6, 1e-7, 123.456789, 7],
                   [2.5e-6, None, float("nan"), 1e-7, float("inf"), 1e303]):  # fmt: skip
        readings = {(g, "gpu.power"): Reading(5.0, v) for g, v in zip(gpus, values, strict=True)}
        one_by_one, bulk = Store(), Store()
        one_by_one.adopt_readings(dict(readings))
        bulk.restore_fleet(entities, ["s"] * 7, 7.0, dict(readings))
        assert bulk._totals == one_by_one._totals
        assert bulk._total_counts == one_by_one._total_counts
        assert bulk.gpu_total("node/n0", "gpu.power") == one_by_one.gpu_total(
            "node/n0", "gpu.power"
        )
    assert bulk._total_counts[("node/n0", "gpu.power")] == 6


def test_forgotten_changes_are_freed_a_slice_at_a_time_not_in_one_step() -> None:
    store = Store()
    samples = [Sample(f"node/n{i}", "node.cpu_util", float(i)) for i in range(5)]
    store.apply(Batch(samples=samples), "s", 1.0)
    before = store.moved()
    store.forget_changes()
    assert not store.moved().readings  # a new cycle sees nothing moved
    assert len(before.readings) == 5  # the old sets are not cleared in the same step
    assert store.drop_litter(3)  # some left after 3 freed
    assert len(before.readings) == 2
    while store.drop_litter(3):
        pass
    assert not before.readings and not before.fresh and not store.drop_litter(0)


def test_a_timed_history_restored_from_columns_is_the_one_restored_from_points() -> None:
    """A recording's job series come back as two columns (NaN: not available), the
    ring keeping the newest of them as it does of points."""
    from array import array

    from console.core.store import TIMED_HISTORY

    count = TIMED_HISTORY + 7
    times = array("d", [float(t) for t in range(count)])
    values = array("d", [float("nan") if t % 5 == 0 else t / 2 for t in range(count)])
    points = [(t, None if v != v else v) for t, v in zip(times, values, strict=True)]
    by_points, by_columns = Store(), Store()
    by_points.restore_history("job/1", "job.gpu_util", points)
    by_columns.restore_history_columns("job/1", "job.gpu_util", times, values)
    assert by_columns.timed_history("job/1", "job.gpu_util") == points[-TIMED_HISTORY:]
    assert by_columns.timed_history("job/1", "job.gpu_util") == by_points.timed_history(
        "job/1", "job.gpu_util"
    )
    by_columns.restore_history_columns("job/1", "job.gpu_util", times[:3], values[:3])
    assert by_columns.timed_history("job/1", "job.gpu_util") == points[:3]
    with pytest.raises(ValueError, match="different lengths"):
        by_columns.restore_history_columns("job/1", "job.gpu_util", times, values[:-1])


def test_a_timed_historys_columns_are_its_points() -> None:
    from console.core.store import TIMED_HISTORY

    store = Store()
    for step in range(TIMED_HISTORY + 3):  # wrapped
        value = None if step % 7 == 0 else step / 2
        batch = Batch(samples=[Sample("job/1", "job.gpu_util", value)], time=1000.0 + step)
        store.apply(batch, "s", received=1000.0 + step)
    times, values = store.timed_columns("job/1", "job.gpu_util")
    points = [(t, None if v != v else v) for t, v in zip(times, values, strict=True)]
    assert points == store.timed_history("job/1", "job.gpu_util")
    assert len(points) == TIMED_HISTORY
    assert [list(column) for column in store.timed_columns("job/2", "job.gpu_util")] == [[], []]


def test_reading_fields_are_the_readings_split() -> None:
    store = Store()
    store.apply(_batch(100.0, 1_000.0), "s", received=100.0)
    store.apply(_batch(102.0, 5_000.0), "s", received=102.0)
    store.apply(_batch(102.0, 7.0, "port.link_speed"), "s", received=102.0)
    readings = list(store.readings())
    assert store.reading_fields() == (
        [(ref, metric) for ref, metric, _reading in readings],
        [reading.time for _ref, _metric, reading in readings],
        [reading.value for _ref, _metric, reading in readings],
        [reading.rate for _ref, _metric, reading in readings],
    )
    assert store.reading_fields()[3] == [2_000.0, None]  # a counter's rate, a gauge's none


def test_a_batch_that_brings_nothing_leaves_the_clock_where_the_data_put_it() -> None:
    # A console mirrors its collector before the collector's first cycle ended: the
    # relay's document has no readings and no time. Its wall-clock arrival became the
    # store's time, and a simulator's clock (days behind) never moved it back: a
    # stalled job's cost then counted those days.
    store = Store()
    store.apply(Batch(), "relay", received=2_000_000_000.0)
    assert store.time is None
    store.apply(_batch(1_795_000_001.0, 1.0), "relay", received=2_000_000_001.0)
    assert store.time == 1_795_000_001.0
    store.apply(Batch(), "relay", received=2_000_000_002.0)
    assert store.time == 1_795_000_001.0


def _summed_fleet(node: str) -> tuple[list[Entity], list[str], dict[tuple[str, str], Reading]]:
    gpus = [f"gpu/{node}/{i}" for i in range(2)]
    entities = [Entity(f"node/{node}", node), *(Entity(g, g, f"node/{node}") for g in gpus)]
    readings = {(g, "gpu.power"): Reading(5.0, 100.0 * (i + 1)) for i, g in enumerate(gpus)}
    return entities, ["s"] * len(entities), readings


class _Keys(list[tuple[str, str]]):
    """A list of keys a weak reference can watch."""


def test_two_stores_share_no_grouping_and_none_outlives_its_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two recordings read side by side (or a rewind beside the live store): the
    # grouping of summed keys was one module global, the last keys of any store kept
    # alive by it for good (32,000 at 1,000 nodes) and regrouped at every switch.
    import gc
    import weakref

    from console.core import store as store_module
    from console.core.store import SummedKeys

    grouped: list[int] = []
    group_keys = store_module._group_keys
    monkeypatch.setattr(store_module, "_group_keys",
                        lambda keys: grouped.append(len(keys)) or group_keys(keys))  # fmt: skip
    fleets = {node: _summed_fleet(node) for node in ("n0", "n1")}
    keys = {node: SummedKeys(fleet[2]) for node, fleet in fleets.items()}
    for node in ("n0", "n1", "n0", "n1"):  # a seek in each, in turn, each a fresh store
        entities, sources, readings = fleets[node]
        store = Store()
        store.restore_fleet(entities, sources, 7.0, readings, (keys[node], [100.0, 200.0]))
        assert store.gpu_total(f"node/{node}", "gpu.power") == 300.0
    assert grouped == [2, 2]  # each store's keys grouped once, whatever came between
    entities, sources, readings = fleets["n0"]
    plain = _Keys(readings)
    watched = weakref.ref(plain)
    Store().restore_fleet(entities, sources, 7.0, readings, (plain, [100.0, 200.0]))
    del plain
    gc.collect()
    assert watched() is None  # nothing keeps a store's keys once the store is gone
