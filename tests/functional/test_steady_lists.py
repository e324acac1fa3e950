"""Fabric, power and GPU lists over a slow link: jitter under a step neither redraws
nor reorders rows; a real move does (issue 15: every pane under 5 KB/s at 1 Hz)."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot

from console.ui.app import WatchfloorApp
from console.ui.kit import EntityTable

AppFactory = Callable[..., WatchfloorApp]
A, B = "link/leaf01/p3~spine01/p1", "link/leaf02/p3~spine01/p2"
"""Two uplinks the demo shows at score 0.00, A before B by name."""


def _rows(app: WatchfloorApp) -> list[tuple[str, list[str]]]:
    table = app.screen.query_one(EntityTable)
    return [(key, [cell.plain for cell in table.get_row(key)]) for key in table._keys]


async def _show(
    app: WatchfloorApp, pilot: Pilot[None], readings: dict[tuple[str, str], float | None]
) -> list[tuple[str, list[str]]]:
    """Record these readings one second on, refresh the pane, and return its rows."""
    time = (app.store.time or 0.0) + 1
    for (ref, metric), value in readings.items():
        app.store.record(ref, metric, value, time)
    app.screen.redraw(force=True)  # type: ignore[attr-defined]
    await pilot.pause()
    return _rows(app)


def _links(
    score_a: float, score_b: float, util_a: float, util_b: float
) -> dict[tuple[str, str], float | None]:
    readings: dict[tuple[str, str], float | None] = {}
    for ref, score, util in ((A, score_a, util_a), (B, score_b, util_b)):
        readings |= {(ref, "link.score"): score, (ref, "link.util"): util,
                     (ref, "link.util_ab"): util, (ref, "link.util_ba"): 10.0}  # fmt: skip
    return readings


async def test_fabric_links_crossing_by_jitter_keep_their_rows(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f")
        shown = await _show(app, pilot, _links(0.60, 0.60, 80.0, 80.0))
        keys = [key for key, _ in shown]
        assert keys.index(A) + 1 == keys.index(B)  # a tie: by name
        assert dict(shown)[A][2:6] == ["0.60", "80%", "80%", "10%"]
        # B now reads higher than A, each within a step of what is shown: nothing moves.
        assert await _show(app, pilot, _links(0.57, 0.63, 78.0, 83.0)) == shown
        moved = dict(await _show(app, pilot, _links(0.57, 0.70, 78.0, 90.0)))
        keys = list(moved)
        assert keys.index(B) < keys.index(A)  # a real move reorders and redraws
        assert moved[B][2:5] == ["0.70", "90%", "90%"] and moved[A][2] == "0.60"
        switches = str(app.screen.query_one("#switches").render())
        assert "worst score 1.00" in switches  # the switch box from the same steady scores


def _gpus(node: str, watts: float) -> dict[tuple[str, str], float | None]:
    return {(f"gpu/{node}/{i}", "gpu.power"): watts for i in range(8)}


async def test_power_nodes_crossing_by_jitter_keep_their_rows(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        shown = await _show(app, pilot, _gpus("node01", 350.0) | _gpus("node03", 340.0))
        rows = dict(shown)
        keys = list(rows)
        assert keys.index("node/node01") + 1 == keys.index("node/node03")
        assert rows["node/node01"][1] == "2.80 kW" and rows["node/node03"][1] == "2.72 kW"
        # node03 now draws more than node01, each within 100 W of what is shown.
        assert await _show(app, pilot, _gpus("node01", 345.0) | _gpus("node03", 347.0)) == shown
        moved = dict(await _show(app, pilot, _gpus("node03", 360.0)))
        keys = list(moved)
        assert keys.index("node/node03") < keys.index("node/node01")
        assert moved["node/node03"][1] == "2.88 kW"
        rack = float(moved["rack:rack01"][1].removesuffix(" kW"))
        nodes = sum(float(cells[1].removesuffix(" kW")) for key, cells in moved.items()
                    if key.startswith("node/"))  # fmt: skip
        assert abs(rack - nodes) < 0.02  # a rack is the sum of its nodes as shown


async def test_gpus_by_util_crossing_by_jitter_keep_their_order(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g", "s")  # by utilisation
        first, second = "gpu/node04/6", "gpu/node04/7"
        util = "gpu.util"
        await _show(app, pilot, {(first, util): None, (second, util): None})  # shown fresh
        shown = await _show(app, pilot, {(first, util): 50.0, (second, util): 48.0})
        keys = [key for key, _ in shown]
        assert keys.index(first) + 1 == keys.index(second)
        assert await _show(app, pilot, {(first, util): 47.0, (second, util): 51.0}) == shown
        keys = [key for key, _ in await _show(app, pilot, {(second, util): 60.0})]
        assert keys.index(second) < keys.index(first)
