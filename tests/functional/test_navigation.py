"""Driving the console with the keyboard, through Textual's Pilot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Static

from console.api import Batch, Pane, PaneBase, Plugin, Source
from console.core.config import Config
from console.core.plugins import Registry, discover
from console.core.runtime import CORE_PLUGIN, DemoOptions, build_sources, load_registry
from console.ui.app import WatchfloorApp
from console.ui.chrome import StatusHeader
from console.ui.kit import EntityTable
from console.ui.screens import FilterInput, HelpScreen, ViewScreen
from tests.conftest import frozen_clock

AppFactory = Callable[..., WatchfloorApp]


def _table(app: WatchfloorApp, selector: str = "EntityTable") -> EntityTable:
    return app.screen.query_one(selector, EntityTable)


async def test_enter_drills_in_and_escape_walks_back(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.crumbs() == ["Overview"]
        nodes = _table(app, "#nodes")
        assert nodes.row_count == 6  # 4 compute nodes and 2 storage servers
        assert not app.screen.query_one("#empty-hint").display
        assert app.focused is app.screen.query_one("#findings")  # what needs attention
        await pilot.press("shift+tab", "down", "enter")  # back to the nodes grid
        assert app.crumbs() == ["Overview", "node/node02"]
        await pilot.press("enter")  # first GPU of the node
        assert app.crumbs() == ["Overview", "node/node02", "gpu/node02/0"]
        await pilot.press("escape")
        assert app.crumbs() == ["Overview", "node/node02"]
        await pilot.press("escape", "escape")
        assert app.crumbs() == ["Overview"]  # Esc at the top stays at the top


async def test_breadcrumbs_are_shown_on_screen(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("j", "enter")
        crumbs = app.screen.query_one("Breadcrumbs")
        assert str(crumbs.render()) == "Overview › Jobs › job/4711"


async def test_goto_from_the_command_palette(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"goto job/4711")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.crumbs() == ["Overview", "job/4711"]
        assert type(app.screen.pane).__name__ == "JobDetail"  # type: ignore[attr-defined]


async def test_goto_an_unknown_ref_says_so(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.open("job/does-not-exist")
        await pilot.pause()
        assert app.crumbs() == ["Overview"]
        assert any("nothing known as job/does-not-exist" in str(n.message)
                   for n in app._notifications)  # fmt: skip


async def test_slash_filters_rows_and_escape_clears(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j")
        table = _table(app)
        assert table.row_count == 3
        await pilot.press("slash", *"serve")
        assert table.row_count == 1
        assert table.selected_ref == "job/4713"
        await pilot.press("escape")
        assert table.row_count == 3
        assert not app.screen.query_one(FilterInput).has_class("-active")


async def test_question_mark_lists_the_keys(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        assert {"Enter", "Esc", ":", "/", "?", "j", "f", "g"} <= set(keys)
        await pilot.press("escape")
        assert isinstance(app.screen, ViewScreen)


@pytest.mark.parametrize("pane_id", ["gpus", "jobs", "fabric"])
async def test_every_built_in_pane_lists_and_opens_its_entities(
    make_app: AppFactory, pane_id: str
) -> None:
    app = make_app()
    pane = next(p for p in app.registry.panes if p.id == pane_id)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(pane.key or "")
        table = _table(app)
        assert table.row_count > 0
        first = table.selected_ref
        assert first is not None
        await pilot.press("enter")
        assert app.crumbs() == ["Overview", pane.title, first]
        assert first.split("/")[0] in pane.opens


async def test_the_signature_walk_reaches_the_congested_link(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f")
        links = _table(app)
        assert links.selected_ref == "link/leaf01/p4~spine02/p1"  # busiest first
        await pilot.press("enter")
        text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        assert "port_xmit_wait" in text
        assert "CRITICAL" in text


async def test_a_pane_that_raises_shows_its_error_and_the_console_goes_on() -> None:
    class Broken(PaneBase):
        def refresh_view(self) -> None:
            raise ZeroDivisionError("division by zero in render")

    plugin = Plugin("broken-pane", "1", panes=(Pane("b", "Broken", Broken, opens=("switch",)),))
    registry = Registry.build([CORE_PLUGIN, plugin, *(r.plugin for r in discover() if r.plugin)])
    sources = build_sources(Config(), registry, DemoOptions(), local=False)
    app = WatchfloorApp(registry, sources, live=False, clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open("switch/leaf01")
        await pilot.pause()
        text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        assert "refresh_view raised ZeroDivisionError: division by zero in render" in text
        await pilot.press("escape")
        assert app.crumbs() == ["Overview"]


async def test_faulty_plugins_do_not_stop_the_console(with_faulty_plugins: Path) -> None:
    records = discover()
    registry = load_registry(records)
    sources = build_sources(Config(), registry, None, local=True)
    app = WatchfloorApp(registry, sources, live=False, clock=frozen_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        sources_table = _table(app, "#sources")
        rows = {
            key: [c.plain for c in sources_table.get_row(key)]
            for key in ("source:hang", "source:nvml")
        }
        assert rows["source:hang"][2:] == ["failed", "timed out after 0.5s"]
        assert rows["source:nvml"][2] == "disabled"
        await pilot.press("j")
        assert app.crumbs() == ["Overview", "Jobs"]


async def test_a_plugin_command_runs_from_the_palette() -> None:
    from console.api import Command

    calls: list[str] = []
    plugin = Plugin(
        "cmd", "1", commands=(Command("ping", "say pong", lambda ctx, arg: calls.append(arg)),)
    )
    registry = Registry.build([CORE_PLUGIN, plugin])
    sources = build_sources(Config(), registry, DemoOptions(), local=False)
    app = WatchfloorApp(registry, sources, live=False, clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("colon", *"ping node01")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert calls == ["node01"]


async def test_an_empty_fleet_explains_itself() -> None:
    app = WatchfloorApp(Registry.build([CORE_PLUGIN]), [], live=False, clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#empty-hint").display


async def test_three_keystrokes_from_the_overview_to_the_congested_link(
    make_app: AppFactory,
) -> None:
    app = make_app(seed=7)
    async with app.run_test(size=(120, 40)) as pilot:
        injected = app.store.source_meta["sim"]["injected"]
        await pilot.press("enter")  # the top finding: the stalled job
        assert app.crumbs() == ["Overview", injected["victim"]]
        await pilot.press("enter")  # its top cause: the congested link, on its paths
        assert app.crumbs()[-1] == "path/4711"
        await pilot.press("enter")  # the marked hop: the link itself
        assert app.crumbs() == ["Overview", "job/4711", "path/4711", injected["link"]]
        text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        assert str(injected["link"]).removeprefix("link/").split("~")[0] in text
        assert str(injected["neighbour"]) in text  # the job whose traffic crosses it
        await pilot.press("escape", "escape", "escape")
        assert app.crumbs() == ["Overview"]


async def test_pane_keys_on_a_deep_screen_open_the_pane_at_the_top_level(
    make_app: AppFactory,
) -> None:
    app = make_app(seed=7)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter", "enter", "enter")  # job → its paths → the hot link
        link = app.crumbs()[-1]
        assert app.crumbs() == ["Overview", "job/4711", "path/4711", link]
        crumbs = app.screen.query_one("Breadcrumbs")
        shown = str(crumbs.render())
        assert len(shown) <= 78 and shown.startswith("Overview › ")  # one line, never wraps
        assert shown.endswith(link.removeprefix("link/")[-8:])  # the newest stays readable
        await pilot.press("g", "f", "j")
        assert app.crumbs() == ["Overview", "Jobs"]  # not Overview › … › GPUs › Fabric › Jobs
        assert str(app.screen.query_one("Breadcrumbs").render()) == "Overview › Jobs"
        await pilot.press("escape")
        assert app.crumbs() == ["Overview"]


async def test_a_narrow_overview_gives_findings_the_width_and_folds_the_sources(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        findings = app.screen.query_one("#panel-findings")
        assert findings.size.width >= 76  # the whole width, not half of it
        assert not app.screen.query_one("#panel-sources").display
        table = _table(app, "#findings")
        seen = "\n".join(table.render_line(y).text for y in range(table.size.height))
        assert "stalled job 4711 llama-70b-pretrain: -62% throughput" in seen  # whole, on screen
        assert table.region.y < app.screen.query_one("#panel-nodes").region.y  # findings first
        await pilot.press("S")
        assert app.crumbs() == ["Overview", "Sources"]
        assert _table(app, "#sources").get_row("source:sim")[2].plain == "ok"
        await pilot.press("escape")
        await pilot.click("StatusHeader")  # the header's count opens them too
        assert app.crumbs() == ["Overview", "Sources"]
        await pilot.press("escape")
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert app.screen.query_one("#panel-sources").display
        assert app.screen.query_one("#panel-findings").size.width < 62


async def test_the_link_screen_at_80_columns_reads_in_words_on_one_line_each(
    make_app: AppFactory,
) -> None:
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    app = make_app(seed=7)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter", "enter", "enter")
        await pilot.pause()
        sections = {s.id: str(s.render()) for s in app.screen.query("Static") if s.id}
        lines = (sections["util"] + sections["ends"]).splitlines()
        assert all(len(line) <= 78 for line in lines), max(lines, key=len)
        assert any(line.startswith("utilisation a→b ") and "█" in line for line in lines)
        assert any(line.startswith("back-pressure (xmit_wait) ") for line in lines)
        assert "link.util_ab" not in sections["util"] and "port.tx_bytes" not in sections["ends"]
        footer = app.screen.query_one(Footer)
        keys = [k for k in footer.query(FooterKey) if not k.has_class("-command-palette")]
        palette = footer.query_one(".-command-palette")
        shown = [k for k in keys if k.display]
        assert shown and len(shown) < len(keys)  # whole keys only: the rest left out
        assert all(k.region.right <= palette.region.x for k in shown)


def test_every_metric_of_the_console_has_a_label() -> None:
    from console.core.model import LABELS, METRICS, metric_label

    assert set(LABELS) <= set(METRICS)
    core = [n for n in METRICS if n.split(".")[0] in ("gpu", "node", "port", "link", "job")]
    assert [name for name in core if not METRICS[name].label] == []
    assert metric_label("link.util_ab") == "utilisation a→b"
    assert metric_label("pdu.unknown") == "pdu.unknown"  # a name without a spec shows as is


async def test_hostile_names_from_a_source_are_shown_as_plain_text() -> None:
    from console.api import Batch, Entity, Source

    class Hostile(Source):
        name, type = "hostile", "test"

        async def poll(self) -> Batch:
            name = "[red]p[/red][link=x]y[/link]\x1b]52;c;ZXZpbA==\x07\u202eevil"
            job = Entity("job/666", name, attrs={"name": name, "state": "RUNNING"})
            return Batch(entities=[job, Entity("node/[b]n1[/b]", "[b]n1[/b]\x1b[2J")])

    registry = Registry.build([CORE_PLUGIN, *(r.plugin for r in discover() if r.plugin)])
    app = WatchfloorApp(registry, [Hostile()], live=False, clock=frozen_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        jobs = _table(app, "#jobs")
        name = jobs.get_row("job/666")[3]
        assert name.plain == "[red]p[/red][link=x]y[/link]evil"
        assert not name.spans  # markup never became style or a link
        node = _table(app, "#nodes").get_row("node/[b]n1[/b]")[0]
        assert node.plain == "[b]n1[/b]" and "\x1b" not in node.plain


async def test_header_counts_sources_that_can_work() -> None:
    from console.api import SourceDisabled

    class NoDriver(Source):
        name, type = "nvml", "nvml"

        async def poll(self) -> Batch:
            raise SourceDisabled("no NVML library")

    class Broken(Source):
        name, type = "agent-x", "agent"

        async def poll(self) -> Batch:
            raise ConnectionRefusedError("refused")

    registry = Registry.build([CORE_PLUGIN])
    app = WatchfloorApp(registry, [NoDriver(), Broken()], live=False, clock=frozen_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        header = str(app.screen.query_one("StatusHeader").render())
        assert "src 0/1 ok" in header  # the disabled NVML source is not counted


async def test_a_detail_view_says_when_its_entity_is_gone(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.open("gpu/node01/0")
        await pilot.pause()
        app.store.expire(before=float("inf"))  # every entity stopped being reported
        app.screen.redraw()  # type: ignore[attr-defined]
        await pilot.pause()
        text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        assert "gpu/node01/0: no longer reported" in text


async def test_escape_paints_the_overview_as_it_was_before_bringing_it_up_to_date(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        overview = app.screen
        assert isinstance(overview, ViewScreen)
        await pilot.press("p")
        await app.engine.collect(1)  # the data moved while the power pane showed
        happened: list[str] = []
        display, refresh_view = app._display, overview.pane.refresh_view

        def painting(screen: object, renderable: object) -> None:
            if screen is overview and renderable is not None:
                happened.append("paint")
            display(screen, renderable)  # type: ignore[arg-type]

        def refreshing() -> None:
            happened.append("refresh")
            refresh_view()

        monkeypatch.setattr(app, "_display", painting)
        monkeypatch.setattr(overview.pane, "refresh_view", refreshing)
        await pilot.press("escape")
        await pilot.pause()
        assert app.crumbs() == ["Overview"]
        # The cached overview is on screen first; the refresh (new data) comes after it.
        assert happened[:1] == ["paint"] and "refresh" in happened
        assert overview.rendered_version == app.store.version


class Pending(Source):
    """A source whose first poll has not landed yet (a big fleet's first cycle)."""

    name = "fleet"
    type = "sim"

    async def poll(self) -> Batch:
        raise AssertionError("never polled: the app is not live")


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_an_empty_overview_says_what_it_is_waiting_for(size: tuple[int, int]) -> None:
    now = [frozen_clock()]
    app = WatchfloorApp(Registry.build([CORE_PLUGIN]), [Pending()], live=False,
                        clock=lambda: now[0], warm_cycles=0, title="watchfloor demo")  # fmt: skip
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        hint = app.screen.query_one("#empty-hint", Static)
        assert hint.display
        said = " ".join(str(hint.render()).split())
        assert "Collecting the first cycle: 0 of 1 sources landed, waiting for fleet" in said
        assert "keys work meanwhile" in said
        # The header counts the wait, not a frozen "none yet".
        now[0] += 12
        app.screen.redraw()
        header = str(app.screen.query_one(StatusHeader).render())
        assert "data first cycle 12s" in header  # at 80 columns too: fewer counts, no clock
        assert ("GPUs 0" in header) == (size[0] == 120)
        await pilot.press("question_mark")  # keys are answered while it waits
        assert isinstance(app.screen, HelpScreen)


async def test_a_pane_key_brings_its_screen_back_as_it_was_then_up_to_date(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        gpus, table = app.screen, _table(app)
        await pilot.press("down", "down")
        await pilot.press("escape")
        await app.engine.collect(1)  # the data moved while the overview showed
        await pilot.press("g")
        await pilot.pause()
        assert app.screen is gpus and _table(app) is table  # not composed again
        assert table.cursor_row == 2  # where it was left
        assert app.crumbs() == ["Overview", "GPUs"]
        assert isinstance(gpus, ViewScreen) and gpus.rendered_version == app.store.version


async def test_a_pane_opened_is_refreshed_once_when_nothing_moved(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchfloor_power.pane import PowerView

    refreshes: list[object] = []
    refresh_view = PowerView.refresh_view

    def counted(pane: PowerView) -> None:
        refreshes.append(pane)
        refresh_view(pane)

    monkeypatch.setattr(PowerView, "refresh_view", counted)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        await pilot.pause()
        await pilot.pause()
        assert app.crumbs() == ["Overview", "Power"]
        assert len(refreshes) == 1  # drawn by its mount; its resume has nothing to add


def test_a_lone_escape_waits_briefly_for_a_sequence_unless_escdelay_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual import constants

    from console.ui.quick_escape import ESCAPE_DELAY_MS, quick_escape

    monkeypatch.setattr(constants, "ESCAPE_DELAY", 0.1)  # Textual's; put back after
    monkeypatch.setenv("ESCDELAY", "250")
    quick_escape()
    assert constants.ESCAPE_DELAY == 0.1  # the user's ESCDELAY is Textual's to read
    monkeypatch.delenv("ESCDELAY")
    quick_escape()
    assert constants.ESCAPE_DELAY == ESCAPE_DELAY_MS / 1000 < 0.1


def test_the_terminal_input_loop_looks_at_the_esc_deadline_often(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import selectors
    import time

    from textual.drivers import linux_driver
    from textual.drivers.headless_driver import HeadlessDriver

    from console.ui.quick_escape import POLL, driver_for

    monkeypatch.setattr(linux_driver, "selectors", selectors)  # put back after
    assert driver_for(HeadlessDriver) is HeadlessDriver
    assert linux_driver.selectors is selectors  # only the Linux driver's loop is changed
    assert driver_for(linux_driver.LinuxDriver) is linux_driver.LinuxDriver
    read, write = os.pipe()
    selector = linux_driver.selectors.SelectSelector()  # the one its input loop makes
    try:
        selector.register(read, linux_driver.selectors.EVENT_READ)
        began = time.monotonic()
        assert selector.select(0.3) == []  # idle: the loop's own wait, not woken each POLL
        assert time.monotonic() - began >= 0.29
        os.write(write, b"\x1b")  # an Esc: maybe the start of a sequence
        assert selector.select(30.0) != []
        os.read(read, 1)
        began = time.monotonic()
        assert selector.select(30.0) == []  # just after input: back after POLL, not 30 s
        assert time.monotonic() - began < 10 * POLL + 1.0
    finally:
        selector.close()
        os.close(read)
        os.close(write)


async def test_panes_built_ahead_at_a_quiet_moment_are_what_their_keys_bring(
    make_app: AppFactory,
) -> None:
    app = make_app()
    keyed = [pane for pane in app.registry.panes if pane.key]
    async with app.run_test(size=(120, 40)) as pilot:
        app.prepare_panes()
        await pilot.pause()
        assert app.crumbs() == ["Overview"]  # built off screen, nothing shown
        assert sorted(app.pane_screens) == sorted(pane.id for pane in keyed)
        for pane in keyed:
            await pilot.press(pane.key)
            assert app.screen is app.pane_screens[pane.id]
            assert app.crumbs() == ["Overview", pane.title]
            await pilot.press("escape")


async def test_a_pane_key_from_deeper_down_brings_the_kept_screen_back_working(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        gpus = app.screen
        await pilot.press("enter")  # one GPU, above the list
        assert len(app.crumbs()) == 3
        await pilot.press("g")  # the list again (popped, then brought back)
        await pilot.pause()
        assert app.screen is gpus and app.crumbs() == ["Overview", "GPUs"]
        await pilot.press("s")  # its keys still work
        assert "GPUs, by util" in str(gpus.query_one(".pane-title", Static).render())
        await pilot.press("escape")
        assert app.crumbs() == ["Overview"]


async def test_a_pane_built_ahead_shows_its_footer_keys_composed_off_screen(
    make_app: AppFactory,
) -> None:
    from textual.widgets._footer import FooterKey

    from console.ui.screens import FitFooter

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.prepare_panes()
        screen = app.pane_screens["gpus"]
        for _ in range(50):  # composed in steps of the event loop, off screen
            if screen.query(FitFooter) and screen.query_one(FitFooter).query(FooterKey):
                break
            await pilot.pause()
        assert app.crumbs() == ["Overview"]  # still off screen
        footer = screen.query_one(FitFooter)
        before = list(footer.query(FooterKey))
        assert before, "the footer of a screen built ahead has no keys before it shows"
        await pilot.press("g")
        await pilot.pause()
        assert app.screen is app.pane_screens["gpus"]
        # Shown as composed ahead: the first visit mounts no key again.
        assert list(footer.query(FooterKey)) == before
        shown = [key.key for key in before if key.display]
        assert "escape" in shown and "g" in shown
