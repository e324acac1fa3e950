"""Faulty plugins of every kind, installed as real distributions, under Pilot: the
console keeps running, and each fault is shown with its reason where the user looks.

The faulty plugins are in tests/plugin_packages (see its README).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.config import Config, SourceEntry
from console.core.plugins import discover
from console.core.runtime import DemoOptions, build_sources, load_registry
from console.ui.app import WatchfloorApp
from console.ui.kit import EntityTable
from console.ui.plugins_view import PluginsView
from console.ui.screens import ViewScreen
from tests.conftest import frozen_clock


def faulty_app(hang: bool = True) -> WatchfloorApp:
    """The demo cluster plus every faulty plugin, its failing sources configured (the
    hanging one costs its timeout, twice, before the first frame)."""
    registry = load_registry(discover())
    types = ("raising", "baddata", "hang") if hang else ("raising", "baddata")
    config = Config(sources=[SourceEntry(t, {}, 0) for t in types])
    sources = build_sources(config, registry, DemoOptions(), local=False)
    return WatchfloorApp(registry, sources, live=False, clock=frozen_clock)


def screen_text(app: WatchfloorApp) -> str:
    """Everything the current screen's Static widgets say."""
    return "\n".join(str(static.render()) for static in app.screen.query("Static"))


def notifications(app: WatchfloorApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def row(table: EntityTable, key: str) -> list[str]:
    return [cell.plain for cell in table.get_row(key)]


async def test_the_console_starts_and_names_every_plugin_that_did_not_load(
    with_faulty_plugins: Path,
) -> None:
    app = faulty_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert notifications(app) == [
            "3 plugins not loaded: broken (import failed), invalid (invalid plugin), "
            "oldapi (needs plugin API 99) — "
            "': plugins' for details"
        ]
        assert app.screen.query_one("#nodes", EntityTable).row_count == 6  # the rest goes on
        sources = app.screen.query_one("#sources", EntityTable)
        assert row(sources, "source:raising")[2:] == [
            "failed", "RuntimeError: sensor bus 3 not responding"
        ]  # fmt: skip
        assert row(sources, "source:notabatch")[3] == (
            "bad data: poll returned dict, not a console.api.Batch"
        )
        assert row(sources, "source:hang")[2:] == ["failed", "timed out after 0.5s"]
        await pilot.press("j")
        assert app.crumbs() == ["Overview", "Jobs"]


async def test_the_plugins_view_shows_each_plugin_and_why(with_faulty_plugins: Path) -> None:
    app = faulty_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.press("colon", *"plugins")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.crumbs() == ["Overview", "Plugins"]
        plugins = app.screen.query_one("#plugins", EntityTable)
        expected = {
            "broken": ("failed", "import failed: ImportError: No module named 'frobnicate'"),
            "oldapi": ("failed", "needs plugin API 99"),
            "invalid": ("failed", "invalid plugin: plugin 'invalid': entity kind 'gpu'"),
            "raising": ("loaded (trouble)", "source raising failed: RuntimeError: sensor bus 3"),
            "baddata": ("loaded (trouble)", "source badsample failed: bad data: samples[0]"),
            "hanging": ("loaded (trouble)", "source hang failed: timed out after 0.5s"),
            "gpu": ("loaded", ""),
        }
        for name, (status, reason) in expected.items():
            cells = row(plugins, f"plugin:{name}")
            assert cells[1] == status, cells
            assert reason in cells[2], cells
        assert "pane slow [x]" in row(plugins, "plugin:slowpane")[4]
        plugins.focus()
        while plugins.selected_ref != "plugin:broken":
            await pilot.press("down")
        await pilot.press("enter")  # everything about it, wrapped, under the table
        detail = str(app.screen.query_one("#plugin-detail").render())
        assert "broken 1.0  wf-broken-import  wf_broken_import:plugin  failed" in detail
        assert "• import failed: ImportError: No module named 'frobnicate'" in detail


async def test_a_plugin_pane_shows_why_its_source_has_no_data(with_faulty_plugins: Path) -> None:
    app = faulty_app(hang=False)
    async with app.run_test(size=(120, 30)) as pilot:
        app.action_open_pane("raising")
        await pilot.pause()
        assert app.crumbs() == ["Overview", "Raising"]
        assert "✖ source raising failed: RuntimeError: sensor bus 3 not responding" in (
            screen_text(app)
        )
        await pilot.press("escape")
        assert app.crumbs() == ["Overview"]


@pytest.mark.parametrize(
    ("pane", "reason"),
    [
        ("create-fails", "pane 'create-fails': create raised ConnectionError: cannot reach the "
                         "licence server"),
        ("compose-fails", "compose raised KeyError: 'rack_id'"),
        ("render-fails", "refresh_view raised ZeroDivisionError: no PDUs to average over"),
        ("mount-fails", "on_mount raised PermissionError: /dev/ipmi0"),
        ("css-fails", "pane 'css-fails': invalid CSS: reference to undefined variable "
                      "'$pdu-overload' (a plugin declares its variables in "
                      "Plugin.theme_variables)"),
        ("not-a-pane", "pane 'not-a-pane': create returned object, not a console.api.PaneBase"),
    ],
)  # fmt: skip
async def test_a_pane_that_fails_shows_why_and_the_console_goes_on(
    with_faulty_plugins: Path, pane: str, reason: str
) -> None:
    app = faulty_app(hang=False)
    async with app.run_test(size=(160, 40)) as pilot:
        app.action_open_pane(pane)
        await pilot.pause()
        app._redraw_screen()  # a later refresh must not fail again, nor hide the reason
        await pilot.pause()
        assert app.is_running
        assert reason in screen_text(app)
        assert any(f"pane {pane} (plugin brokenpane) failed: " in n for n in notifications(app))
        assert app.pane_healths[pane].failure.endswith(reason.split(": ", 1)[-1])
        await pilot.press("escape")
        assert app.crumbs() == ["Overview"]
        app.open_plugins_view()
        await pilot.pause()
        panes = app.screen.query_one("#panes", EntityTable)
        assert row(panes, f"pane:{pane}")[4].startswith("failed: ")


async def test_a_slow_pane_is_named_and_refreshed_less_often(with_faulty_plugins: Path) -> None:
    from wf_slow_pane import SlowPane  # type: ignore[import-not-found]

    app = faulty_app(hang=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("x")
        assert app.crumbs() == ["Overview", "Slow"]
        screen = app.screen
        assert isinstance(screen, ViewScreen)
        for _ in range(3):  # three refreshes over budget in a row make it slow
            app.store.set_findings(list(app.store.findings))  # the store moved
            screen.redraw()
        health = app.pane_healths["slow"]
        assert health.slow and health.last >= 0.08
        await pilot.pause()
        said = [
            n for n in notifications(app) if n.startswith("pane slow (plugin slowpane) is slow")
        ]
        assert len(said) == 1 and "the budget is 50 ms" in said[0]
        drawn = SlowPane.refreshes
        app.store.set_findings(list(app.store.findings))
        screen.redraw()  # within its wait (4× its 80 ms): skipped
        assert SlowPane.refreshes == drawn and health.skipped == 1
        app.open_plugins_view()
        await pilot.pause()
        assert isinstance(app.screen, ViewScreen) and isinstance(app.screen.pane, PluginsView)
        status = row(app.screen.query_one("#panes", EntityTable), "pane:slow")[4]
        assert "over the 50 ms budget: refreshed less often" in status
        plugin = row(app.screen.query_one("#plugins", EntityTable), "plugin:slowpane")
        assert "pane slow refresh" in plugin[2]


async def test_a_failed_pane_is_built_anew_when_opened_again(with_faulty_plugins: Path) -> None:
    app = faulty_app(hang=False)
    async with app.run_test(size=(160, 40)) as pilot:
        app.action_open_pane("render-fails")
        await pilot.pause()
        failed = app.screen
        await pilot.press("escape")
        app.action_open_pane("render-fails")  # a retry: not the kept screen of the failure
        await pilot.pause()
        assert app.screen is not failed and app.crumbs() == ["Overview", "Render fails"]
        assert "refresh_view raised ZeroDivisionError" in screen_text(app)
        assert failed not in app.screen_stack and not failed.is_attached


async def test_only_watchfloor_s_own_panes_are_built_ahead(with_faulty_plugins: Path) -> None:
    app = faulty_app(hang=False)
    async with app.run_test(size=(160, 40)) as pilot:
        app.prepare_panes()
        await pilot.pause()
        assert "gpus" in app.pane_screens
        assert not {"render-fails", "mount-fails", "slow"} & set(app.pane_screens)
        assert not any(n.startswith("pane ") for n in notifications(app))  # none met unasked
