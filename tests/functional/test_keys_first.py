"""A key is answered before anything that can wait: merging, the redraw tick, and the
footer's own rebuilding (issue 17: keys at fleet size)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pytest
from textual.widgets._footer import FooterKey

from console.api import Batch, Entity, Finding
from console.collector.gate import INPUT_GATE, InputGate
from console.ui.app import WatchfloorApp
from console.ui.kit import EntityTable
from console.ui.overview import OverviewPane
from console.ui.screens import FitFooter, ViewScreen
from watchfloor_security.pane import SecurityView

AppFactory = Callable[..., WatchfloorApp]


@pytest.fixture
def gate_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The input gate's clock, held still: a test moves ``now[0]``."""
    now = [100.0]
    monkeypatch.setattr("console.collector.gate.time.monotonic", lambda: now[0])
    return now


def test_a_key_holds_merging_until_its_pane_is_drawn_however_long_that_takes() -> None:
    gate = InputGate(quiet=0.0, hold_limit=30.0)
    assert gate.is_open()
    gate.touch()
    assert not gate.is_open()  # quiet 0: only the pane not drawn yet holds it
    gate.drawn()
    assert gate.is_open()


def test_a_key_never_drawn_holds_merging_no_longer_than_the_limit(gate_clock: list[float]) -> None:
    now = gate_clock
    gate = InputGate(quiet=0.1, hold_limit=5.0)
    gate.touch()
    now[0] += 4.0
    assert not gate.is_open()
    now[0] += 1.5  # past the limit: data is late, never stopped
    assert gate.is_open()


async def test_opening_a_pane_reports_it_drawn_so_merging_resumes(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        assert app.crumbs() == ["Overview", "GPUs"]
        assert INPUT_GATE._held_since is None  # drawn: held no longer than that
        await pilot.press("escape")
        await pilot.pause()
        assert INPUT_GATE._held_since is None


async def test_the_redraw_tick_waits_while_a_key_is_answered(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        redraws: list[float] = []
        monkeypatch.setattr(ViewScreen, "redraw", lambda self, force=False: redraws.append(1))
        monkeypatch.setattr(INPUT_GATE, "_held_since", time.monotonic())  # a key, not drawn
        app._tick()
        assert redraws == []
        monkeypatch.setattr(INPUT_GATE, "_held_since", None)
        monkeypatch.setattr(INPUT_GATE, "_last", -1e9)  # long quiet
        app._tick()
        assert redraws == [1]


async def test_back_to_the_overview_does_not_build_its_footer_again(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        overview_footer = app.screen.query_one(FitFooter)
        keys_before = [k.key for k in overview_footer.query(FooterKey)]
        assert "g" in keys_before
        composed: list[FitFooter] = []
        compose = FitFooter.compose

        def counted(self: FitFooter) -> object:
            composed.append(self)
            return compose(self)

        monkeypatch.setattr(FitFooter, "compose", counted)
        await pilot.press("g")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert overview_footer not in composed  # its keys did not change
        assert [k.key for k in app.screen.query_one(FitFooter).query(FooterKey)] == keys_before


async def test_footer_keys_mount_without_a_second_style_pass(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        restyled: list[FooterKey] = []
        monkeypatch.setattr(
            FooterKey, "update_node_styles", lambda self, animate=True: restyled.append(self)
        )
        await pilot.press("g")  # a new screen: its footer's keys are made and mounted
        await pilot.pause()
        footer = app.screen.query_one(FitFooter)
        keys = [k for k in footer.query(FooterKey) if not k.has_class("-command-palette")]
        assert keys and all(k.compact is footer.compact for k in keys)
        bound = [k for k in restyled if not k.has_class("-command-palette")]  # (its own look)
        assert bound == []  # born with the footer's look: no class added, then removed


async def test_panes_build_cells_only_for_the_findings_and_events_in_view(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        store = app.store
        store.findings = [
            Finding(f"gpu/node01/{i}", "gpu-hot", "warning", f"hot {i}") for i in range(2000)
        ]
        events = [
            Entity(f"event/e{i}", f"e{i}", "node/node01",
                   {"category": "guard", "time": 1.0 + i, "severity": "warning"})
            for i in range(2000)
        ]  # fmt: skip
        store.apply(Batch(entities=events), "audit", 1.0)
        built: list[str] = []
        cells = OverviewPane._finding_cells
        event_cells = SecurityView._event

        def finding_cells(self: OverviewPane, finding: Finding) -> object:
            built.append(finding.ref)
            return cells(self, finding)

        def event_row(self: SecurityView, event: Entity, *times: float) -> object:
            built.append(event.ref)
            return event_cells(self, event, *times)

        monkeypatch.setattr(OverviewPane, "_finding_cells", finding_cells)
        monkeypatch.setattr(SecurityView, "_event", event_row)
        app.screen.pane.refresh_view()
        assert 0 < len(built) <= 40  # a screenful at most, of 2,000
        built.clear()
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen.pane, SecurityView)
        built.clear()
        app.screen.pane.refresh_view()
        assert 0 < len([r for r in built if r.startswith("event/")]) <= 40


async def _prepared(app: WatchfloorApp, pilot: object, pane_id: str) -> ViewScreen:
    """The screen ``prepare_panes`` builds ahead for ``pane_id``, once it is mounted."""
    app.prepare_panes()
    screen = app.pane_screens[pane_id]
    for _ in range(50):  # mounted in steps of the event loop, then laid out and drawn
        if screen.is_mounted and screen.pane.size.width:
            break
        await pilot.pause()  # type: ignore[attr-defined]
    assert screen.is_mounted
    return screen


async def test_a_pane_built_ahead_is_laid_out_and_drawn_before_its_key(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    drawn: list[object] = []
    render_line = EntityTable.render_line

    def counted(self: EntityTable, y: int) -> object:
        drawn.append(self)
        return render_line(self, y)

    monkeypatch.setattr(EntityTable, "render_line", counted)
    monkeypatch.setattr(INPUT_GATE, "_last", -1e9)  # quiet: no key of an earlier test
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = await _prepared(app, pilot, "gpus")
        assert app.screen is not screen
        # Laid out for this terminal and drawn while off screen (nothing shown): its key
        # waits for neither.
        assert screen.pane.size.width == 120 and screen.pane.size.height > 20
        table = screen.pane.query_one(EntityTable)
        assert table in drawn
        drawn.clear()
        await pilot.press("g")
        await pilot.pause()
        assert app.screen is screen and screen.pane.size.width == 120


async def test_a_pane_built_ahead_does_not_answer_a_key_pending_meanwhile(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        monkeypatch.setattr(INPUT_GATE, "_held_since", None)
        monkeypatch.setattr(INPUT_GATE, "hold_limit", 3600.0)  # however slow the machine
        INPUT_GATE.touch()  # a key pressed, its pane not drawn yet
        await _prepared(app, pilot, "gpus")
        await pilot.pause()
        assert INPUT_GATE._held_since is not None  # still held for that key
        INPUT_GATE.drawn()


async def test_a_pane_built_ahead_is_laid_out_after_a_key_pressed_meanwhile(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Laying out and drawing a pane built ahead is one long step of the loop (half a
    second for the GPU list at 4,000 nodes): a key pressed meanwhile goes first."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        monkeypatch.setattr(INPUT_GATE, "_held_since", None)
        monkeypatch.setattr(INPUT_GATE, "_last", time.monotonic() + 3600)  # input now
        screen = await _prepared(app, pilot, "gpus")
        for _ in range(5):
            await pilot.pause()
        assert screen.pane.size.width == 0  # mounted, not laid out: the key's turn
        monkeypatch.setattr(INPUT_GATE, "_last", -1e9)  # input quiet again
        for _ in range(100):
            if screen.pane.size.width:
                break
            await pilot.pause(0.05)
        assert screen.pane.size.width == 120 and app.screen is not screen


async def test_a_warm_put_off_by_a_key_is_harmless_once_the_app_closes(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm put off until the key is answered may come due while the app closes (its
    screen stack empty): it does nothing (it raised ScreenStackError at exit)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = await _prepared(app, pilot, "gpus")
        monkeypatch.setattr(INPUT_GATE, "_last", -1e9)  # quiet: it would lay out if it could
        stacks = app._screen_stacks
        shown, stacks[app._current_mode] = stacks[app._current_mode], []  # as at exit
        try:
            screen.warm()
        finally:
            stacks[app._current_mode] = shown


async def test_panes_are_built_ahead_before_the_first_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Built while the store is empty (cheap), not in the seconds after a large fleet
    lands, when each pane's first refresh and layout was a long step a key waited for."""
    from console.core.plugins import discover
    from console.core.runtime import load_registry

    registry = load_registry([r for r in discover() if r.distribution == "watchfloor"])
    app = WatchfloorApp(registry, [], live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.store.count("node") == 0 and not app.pane_screens
        monkeypatch.setattr(INPUT_GATE, "_held_since", None)
        monkeypatch.setattr(INPUT_GATE, "_last", -1e9)  # input quiet (the overview drawn)
        app._tick()
        await pilot.pause()
        assert sorted(app.pane_screens) == sorted(p.id for p in registry.panes if p.key)
        assert app.crumbs() == ["Overview"]  # built off screen


def _styles(screen: ViewScreen) -> list[tuple[str, dict[str, object]]]:
    return [(repr(node), dict(node._css_styles.get_rules())) for node in screen.walk_children()]


def _styled_from_now(app: WatchfloorApp, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The nodes whose styles the app works out anew from now on, in order."""
    styled: list[object] = []
    update_styles = type(app).update_styles

    def counted(self: WatchfloorApp, node: object, animate: bool = True) -> None:
        styled.append(node)
        update_styles(self, node, animate)  # type: ignore[arg-type]

    monkeypatch.setattr(type(app), "update_styles", counted)
    return styled


async def test_a_kept_pane_pushed_again_is_not_styled_again_and_its_styles_hold(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = await _prepared(app, pilot, "gpus")
        styled = _styled_from_now(app, monkeypatch)
        for _ in range(2):  # its first key (built ahead), then back and again
            await pilot.press("g")
            await pilot.pause()
            assert app.screen is screen
            assert screen not in styled  # no pass over every widget of the screen
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("g")
        await pilot.pause()
        shown = _styles(screen)
        type(app).update_styles(app, screen, False)  # what the skipped pass would have made
        assert _styles(screen) == shown


async def test_a_kept_pane_is_styled_again_after_the_theme_changed(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(theme="dark")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ViewScreen)
        await pilot.press("escape")
        await pilot.pause()
        before = screen.styles.background
        app.theme = "light"
        await pilot.pause()
        await pilot.press("g")
        await pilot.pause()
        assert app.screen is screen
        assert screen.styles.background != before  # the light theme's, not the dark one's
        shown = _styles(screen)
        type(app).update_styles(app, screen, False)
        assert _styles(screen) == shown


async def test_a_kept_pane_is_styled_again_after_the_app_lost_focus_meanwhile(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        screen = app.screen
        await pilot.press("escape")
        await pilot.pause()
        app.app_focus = False  # (its browser tab left): Textual restyles the shown screen
        await pilot.pause()
        styled = _styled_from_now(app, monkeypatch)
        app.action_open_pane("gpus")  # not a key (a key gives the app its focus back)
        await pilot.pause()
        assert app.screen is screen and not app.app_focus
        assert any(node is screen for node in styled)  # its :blur styles, not :focus ones


async def test_no_garbage_collection_runs_while_a_key_is_answered(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app._gc_pauses.start()  # as a live console does at its start
        try:
            collecting: list[bool] = []
            redraw = ViewScreen.redraw

            def watched(self: ViewScreen, force: bool = False) -> None:
                collecting.append(gc.isenabled())
                redraw(self, force)

            monkeypatch.setattr(ViewScreen, "redraw", watched)
            await pilot.press("g")
            await pilot.pause()
            assert app.crumbs() == ["Overview", "GPUs"]
            assert collecting and collecting[0] is False  # the pane drawn with no GC pass
            assert gc.isenabled()  # drawn: collections run again
        finally:
            app._gc_pauses.stop()
        assert gc.isenabled()


def test_input_pauses_merging_for_a_moment_and_no_longer(gate_clock: list[float]) -> None:
    now = gate_clock
    gate = InputGate(quiet=0.15, hold_limit=5.0)
    assert gate.is_open()
    gate.stir()  # bytes came, no key yet (an Esc waiting for the rest of a sequence)
    assert not gate.is_open()
    now[0] += 0.2  # they made no key (a mouse move): merging goes on, nothing held
    assert gate.is_open()


def test_a_moving_mouse_does_not_hold_merging_while_it_moves(gate_clock: list[float]) -> None:
    now = gate_clock
    gate = InputGate(quiet=0.15, hold_limit=5.0)
    open_while_moving = []
    for _ in range(60):  # 3 s of mouse reports, 20 a second
        gate.stir()
        open_while_moving.append(gate.is_open())
        now[0] += 0.05
    assert not any(open_while_moving[:10])  # the first half second: maybe a key coming
    assert all(open_while_moving[14:])  # then (a quiet moment on) merging goes on
    now[0] += 1.0  # still, then input again: a new run pauses merging again
    gate.stir()
    assert not gate.is_open()


def test_the_terminal_input_loop_pauses_merging_as_input_arrives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import selectors

    from textual.drivers import linux_driver

    from console.ui.quick_escape import driver_for

    monkeypatch.setattr(linux_driver, "selectors", selectors)  # put back after
    driver_for(linux_driver.LinuxDriver)
    # Every other name of the module still there for the driver (only the selector is ours).
    assert linux_driver.selectors.DefaultSelector is selectors.DefaultSelector
    monkeypatch.setattr(INPUT_GATE, "_last", -1e9)  # long quiet
    monkeypatch.setattr(INPUT_GATE, "_held_since", None)
    read, write = os.pipe()
    selector = linux_driver.selectors.SelectSelector()  # the one its input loop makes
    try:
        selector.register(read, linux_driver.selectors.EVENT_READ)
        assert selector.select(0.0) == [] and INPUT_GATE.is_open()
        os.write(write, b"\x1b")  # the Esc is made a key 40 ms later: merging stops now
        assert selector.select(30.0) != []
        assert not INPUT_GATE.is_open()
        assert INPUT_GATE._held_since is None  # not a key's hold (that comes with the key)
    finally:
        selector.close()
        os.close(read)
        os.close(write)


async def test_a_refresh_that_changes_no_text_lays_nothing_out_again(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import Static

    app = make_app()
    updated: list[object] = []
    update = Static.update

    def counted(self: Static, *args: object, **kwargs: object) -> None:
        updated.append(self.id)
        update(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Static, "update", counted)
    async with app.run_test(size=(120, 40)) as pilot:
        # Panes with text above their tables, and a job's detail (text sections).
        for keys in (("s",), ("p",), ("f",), ("j", "enter")):
            await pilot.press(*keys)
            await pilot.pause()
            updated.clear()
            app.screen.pane.refresh_view()  # type: ignore[attr-defined]
            assert updated == []  # (a Static's update lays the whole screen out again)
            await pilot.press(*["escape"] * len(keys))
            await pilot.pause()
