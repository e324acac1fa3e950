"""The overview of more nodes than its panel has rows: one row per rack (or leaf)."""

from __future__ import annotations

import pytest

from console.core.config import Config
from console.core.model import Entity
from console.core.plugins import discover
from console.core.runtime import DemoOptions, build_sources, load_registry
from console.ui.app import WatchfloorApp
from console.ui.kit import EntityTable
from console.ui.node_groups import buckets, group_nodes, grouped_alike
from tests.conftest import frozen_clock


def _app(nodes: int) -> WatchfloorApp:
    registry = load_registry([r for r in discover() if r.distribution == "watchfloor"])
    demo = DemoOptions("congested-link", 1, nodes)
    sources = build_sources(Config(), registry, demo, local=False)
    return WatchfloorApp(registry, sources, live=False, clock=frozen_clock)


async def test_nodes_that_do_not_fit_are_grouped_by_rack_worst_first_and_unfold() -> None:
    app = _app(16)  # 16 compute nodes, 4 a rack, and 2 storage servers (no rack)
    async with app.run_test(size=(120, 24)) as pilot:  # the panel has 7 rows
        table = app.screen.query_one("#nodes", EntityTable)
        keys = table.row_keys
        assert sorted(keys) == sorted(
            ["group:rack01", "group:rack02", "group:rack03", "group:rack04", "group:other"]
        )
        panel = app.screen.query_one("#panel-nodes")
        assert panel.border_title == "Nodes × GPUs by rack"
        # The stalled job's rack (its nodes have findings) comes first.
        victim = app.store.source_meta["sim"]["injected"]["victim"]
        victim_nodes = app.store.get(str(victim)).attrs["nodes"]  # type: ignore[union-attr]
        first_rack = app.store.get(victim_nodes[0]).attrs["rack"]  # type: ignore[union-attr]
        assert keys[0] == f"group:{first_rack}"
        row = table.get_row(keys[0])
        assert row[0].plain == f"▸ {first_rack} (4)" and len(row[1].plain) == 4  # a block a node
        table.focus()
        await pilot.press("home", "enter")  # unfold the worst rack in place
        keys = table.row_keys
        rack = [n.ref for n in app.store.of_kind("node") if n.attrs.get("rack") == first_rack]
        assert keys[0] == f"group:{first_rack}" and sorted(keys[1:5]) == sorted(rack)
        await pilot.press("down", "enter")  # a node row opens the node
        assert app.crumbs() == ["Overview", keys[1]]


async def test_nodes_that_fit_are_listed_one_a_row() -> None:
    app = _app(4)
    async with app.run_test(size=(120, 40)):
        table = app.screen.query_one("#nodes", EntityTable)
        assert table.row_keys[0] == "node/node01" and table.row_count == 6
        assert app.screen.query_one("#panel-nodes").border_title == "Nodes × GPUs"


def test_a_grouping_that_fits_is_preferred_else_the_one_with_fewest_groups() -> None:
    nodes = [
        Entity(
            f"node/n{i}", f"n{i}", attrs={"rack": f"rack{i // 2}", "leaf": f"switch/leaf{i // 8}"}
        )
        for i in range(16)
    ]
    assert group_nodes(nodes, 8)[0] == "rack"  # 8 racks fit in 8 rows
    by, groups = group_nodes(nodes, 4)  # 8 racks do not; 2 leaves do
    assert by == "leaf" and groups["leaf1"] == [f"node/n{i}" for i in range(8, 16)]
    assert group_nodes(nodes, 1)[0] == "leaf"  # neither fits: the fewest groups
    assert group_nodes([Entity("node/a", "a")], 0) == ("", {})  # nobody says
    assert buckets([10.0, 20.0, None, None, 50.0], 3) == [15.0, None, 50.0]
    assert buckets([1.0, 2.0], 8) == [1.0, 2.0]


async def test_a_node_reported_in_another_rack_is_grouped_there_at_the_next_refresh() -> None:
    from console.api import Batch

    app = _app(16)
    async with app.run_test(size=(120, 24)) as pilot:
        table = app.screen.query_one("#nodes", EntityTable)
        assert "group:rack09" not in table.row_keys
        node = app.store.get("node/node01")
        assert node is not None and node.attrs["rack"] != "rack09"
        moved = Entity(node.ref, node.name, node.parent, {**node.attrs, "rack": "rack09"})
        app.store.apply(Batch(entities=[moved], time=app.store.time or 0.0), "sim", 0.0)
        app.screen.redraw()  # type: ignore[attr-defined]
        await pilot.pause()
        assert "group:rack09" in table.row_keys
        assert table.get_row("group:rack09")[0].plain == "▸ rack09 (1)"


def test_nodes_reported_again_group_alike_unless_a_rack_or_leaf_moved() -> None:
    nodes = [Entity(f"node/n{i}", f"n{i}", attrs={"rack": "rack1", "temp": 40}) for i in range(3)]
    again = [Entity(n.ref, n.name, n.parent, {**n.attrs, "temp": 90}) for n in nodes]
    assert grouped_alike(nodes, nodes) and grouped_alike(nodes, again)  # a new reading only
    moved = [*again[:2], Entity("node/n2", "n2", attrs={"rack": "rack2"})]
    assert not grouped_alike(nodes, moved)
    assert not grouped_alike(nodes, [*nodes, Entity("node/n3", "n3")])  # one more
    assert not grouped_alike(nodes, [nodes[1], nodes[0], nodes[2]])  # another order
    leaf = [*nodes[:2], Entity("node/n2", "n2", attrs={"rack": "rack1", "leaf": "switch/l9"})]
    assert not grouped_alike(nodes, leaf)


async def test_nodes_reported_again_in_their_racks_are_not_grouped_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from console.api import Batch

    app = _app(16)
    async with app.run_test(size=(120, 24)) as pilot:
        grouped: list[int] = []
        monkeypatch.setattr(
            "console.ui.overview.group_nodes",
            lambda nodes, rows: grouped.append(1) or group_nodes(nodes, rows),
        )
        nodes = app.store.of_kind("node")
        again = [
            Entity(n.ref, n.name, n.parent, {**n.attrs, "slurm_state": "mixed"}) for n in nodes
        ]
        app.store.apply(Batch(entities=again, time=app.store.time or 0.0), "sim", 0.0)
        app.screen.redraw()  # type: ignore[attr-defined]
        await pilot.pause()
        assert grouped == []  # new objects, the same racks: the grouping is kept
        assert "group:rack01" in app.screen.query_one("#nodes", EntityTable).row_keys
