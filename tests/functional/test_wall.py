"""Wall mode under Pilot: the tiles' figures, the rotation, the hold on a new critical
finding, lost sources, and no key that opens anything waiting for another key.

The clock is driven by the test (no sleeping): each ``redraw`` is one refresh tick.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from rich.text import Text
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, Digits, Static

from console.agent.client import AgentSource
from console.agent.server import make_app as agent_app
from console.agent.server import make_runner
from console.core.config import Config, WallConfig
from console.core.headless import snapshot_document
from console.core.model import Finding
from console.core.runtime import DemoOptions, build_sources, load_registry
from console.ui.app import WatchfloorApp
from console.ui.wall import Tile, WallScreen
from tests.conftest import FROZEN_NOW, frozen_clock
from tests.integration.agents import free_port, sim_collector

AppFactory = Callable[..., WatchfloorApp]


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = FROZEN_NOW

    def __call__(self) -> float:
        return self.now


def wall(app: WatchfloorApp) -> WallScreen:
    screen = app.screen
    assert isinstance(screen, WallScreen)
    return screen


def tile(app: WatchfloorApp, tile_id: str) -> tuple[str, str]:
    """(big digits, state line) of one tile, as on screen."""
    widget = wall(app).query_one(f"#tile-{tile_id}", Tile)
    state = widget.query_one(".tile-state", Static).render()
    return widget.query_one(Digits).value, str(state)


def expected_figures(app: WatchfloorApp) -> dict[str, str]:
    """The tiles' numbers computed from the headless snapshot of the same store."""
    document: dict[str, Any] = snapshot_document(app.store, app.sources(), app.cost)
    kinds = [f["kind"] for f in document["findings"]]
    lost = sum(1 for g in document["gpus"] if str(g.get("health", "")).startswith("lost"))
    return {
        "gpus": str(len(document["gpus"]) - lost),
        "stalled": str(kinds.count("job-stalled")),
        "links": str(kinds.count("link-congested")),
        "power": f"{document['power']['draw_w'] / 1000:.1f}",
        "cost": f"{document['power']['energy_cost_per_hour']:.2f}",
        "security": str(sum(1 for kind in kinds if kind.startswith("security-"))),
        "sources": str(sum(1 for s in document["sources"] if s["status"] == "ok")),
    }


@pytest.mark.parametrize("scenario", ["congested-link", "xid-error", "healthy"])
async def test_tiles_show_the_snapshot_figures(make_app: AppFactory, scenario: str) -> None:
    app = make_app(scenario=scenario, wall=WallConfig())
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        expected = expected_figures(app)
        shown = {tile_id: tile(app, tile_id)[0] for tile_id in expected}
        assert shown == expected
        total = str(len(app.store.of_kind("gpu")))
        assert f"of {total}" in tile(app, "gpus")[1]
        if scenario == "congested-link":
            assert shown["stalled"] == "1" and shown["links"] == "3"
            assert tile(app, "links")[1].startswith(" ✖ CRIT")  # symbol and word, not colour alone
        if scenario == "xid-error":
            assert shown["gpus"] == "31"  # node03/5 fell off the bus
            assert "1 down" in tile(app, "gpus")[1]
        if scenario == "healthy":
            assert all(tile(app, t)[1].startswith(" ● OK") for t in expected)


async def test_small_terminal_shows_the_figures_as_text(make_app: AppFactory) -> None:
    app = make_app(wall=WallConfig())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = wall(app)
        assert screen.compact
        gpus = screen.query_one("#tile-gpus", Tile)
        assert not gpus.query_one(Digits).display
        assert str(gpus.query_one(".tile-value", Static).render()) == "32 of 32"
        await pilot.resize_terminal(200, 60)
        await pilot.pause()
        assert not screen.compact and gpus.query_one(Digits).display


async def test_a_wall_line_that_changes_only_its_style_is_shown_anew(
    make_app: AppFactory,
) -> None:
    app = make_app(wall=WallConfig())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = wall(app)
        bar = screen.query_one("#pane-bar", Static)
        screen._set("pane-bar", Text("rotation held"))
        screen._set("pane-bar", Text("rotation held", style="bold"))
        shown = bar.content
        assert isinstance(shown, Text) and shown.style == "bold"  # not the plain one kept


async def test_rotation_moves_on_after_the_dwell(make_app: AppFactory) -> None:
    clock = Clock()
    app = make_app(scenario="healthy", wall=WallConfig(dwell=30), clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = wall(app)
        panes = screen.rotation.panes
        assert panes[0] == "overview" and len(panes) >= 4
        switcher = screen.query_one(ContentSwitcher)
        seen = [switcher.current]
        for _ in range(len(panes)):
            clock.now += 29
            screen.redraw()
            assert switcher.current == seen[-1]  # not before the dwell is over
            clock.now += 1
            screen.redraw()
            await pilot.pause()
            seen.append(switcher.current)
        assert seen == [f"wall-{p}" for p in [*panes, panes[0]]]  # every pane, then round again
        shown = screen.query_one(f"#wall-{panes[1]}")
        clock.now += 30
        screen.redraw()
        await pilot.pause()
        assert shown.display and shown.region.height > 10  # the pane really is on screen
        assert f"2/{len(panes)}" in str(screen.query_one("#pane-bar", Static).render())


async def test_a_new_critical_finding_holds_the_rotation_and_is_shown(
    make_app: AppFactory,
) -> None:
    clock = Clock()
    app = make_app(scenario="healthy", wall=WallConfig(dwell=30, hold=120), clock=clock)
    async with app.run_test(size=(200, 60)) as pilot:
        screen = wall(app)
        switcher = screen.query_one(ContentSwitcher)
        alert = screen.query_one("#alert", Static)
        assert not alert.display and switcher.current == "wall-overview"
        link = app.store.of_kind("link")[0].ref
        congested = Finding(link, "link-congested", "critical", "congested link under test",
                            since=app.store.time, evidence=["utilisation 99%"])  # fmt: skip
        clock.now += 10
        app.store.set_findings([congested])
        screen.redraw()
        await pilot.pause()
        assert alert.display
        assert "congested link under test" in str(alert.render())
        assert switcher.current == "wall-fabric"  # the pane that shows a link
        assert "held" in str(screen.query_one("#pane-bar", Static).render())
        ribbon = str(screen.query_one("#ribbon-text", Static).render())
        assert ribbon.splitlines()[0].startswith(" ✖ CRIT") and "under test" in ribbon
        for _ in range(3):  # three dwells pass: still held on it
            clock.now += 30
            screen.redraw()
            assert switcher.current == "wall-fabric" and alert.display
        clock.now += 30  # 130 s after it appeared: no longer new
        screen.redraw()
        await pilot.pause()
        assert not alert.display
        clock.now += 30
        screen.redraw()
        assert switcher.current != "wall-fabric"  # and the rotation goes on


async def test_an_old_critical_finding_does_not_hold(make_app: AppFactory) -> None:
    """A stall that began ten minutes ago is not news when the wall first sees it."""
    clock = Clock()
    app = make_app(scenario="healthy", wall=WallConfig(dwell=30, hold=120), clock=clock)
    async with app.run_test(size=(120, 40)):
        screen = wall(app)
        old = Finding("job/4711", "job-stalled", "critical", "stalled long ago",
                      since=(app.store.time or 0) - 600)  # fmt: skip
        app.store.set_findings([old])
        screen.redraw()
        assert screen.view is not None and screen.view.alert is None
        clock.now += 30
        screen.redraw()
        assert screen.view.pane != "overview"


async def test_lost_sources_are_shown_until_they_answer_again() -> None:
    registry = load_registry()
    sources = build_sources(Config(), registry, DemoOptions(), local=False)
    port = free_port()
    sources.append(AgentSource(f"http://127.0.0.1:{port}", 1.0, timeout=2.0))
    app = WatchfloorApp(registry, sources, live=False, clock=frozen_clock, wall=WallConfig())
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        lost = wall(app).query_one("#lost", Static)
        assert lost.display
        assert "✖ LOST 127.0.0.1:" in str(lost.render())
        assert "refused" in str(lost.render())
        assert tile(app, "sources")[0] == "1"
        assert "of 2" in tile(app, "sources")[1] and "1 lost" in tile(app, "sources")[1]
        runner = make_runner(agent_app(sim_collector("node02"), None))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()  # the agent is back
        try:
            await app.engine.collect(1)
            wall(app).redraw()
            await pilot.pause()
            assert not lost.display
            assert tile(app, "sources")[0] == "2"
        finally:
            await runner.cleanup()


PRESSED = [
    *(c for c in string.printable if c not in "q\t\n\r\x0b\x0c "),
    "enter", "escape", "tab", "shift+tab", "space", "question_mark", "colon", "slash",
    "ctrl+p", "f1", "up", "down", "pageup", "pagedown", "home", "end", "k", "s",
]  # fmt: skip
"""Every printable key and the console's special keys ('q' quits, which is allowed)."""


async def test_no_key_opens_anything_that_waits_for_a_key(make_app: AppFactory) -> None:
    app = make_app(wall=WallConfig())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = wall(app)
        for key in PRESSED:
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen, key
            assert not any(isinstance(s, ModalScreen) for s in app.screen_stack), key
            assert app.focused is None, key  # no cursor: nothing holds the focus
        assert app.read_only  # and nothing dangerous can be done from a wall
        await pilot.press("g")  # a pane key shows that pane in place
        assert screen.query_one(ContentSwitcher).current == "wall-gpus"
