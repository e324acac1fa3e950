"""Names that Rich/Textual markup would choke on, everywhere the console shows text.

A local user can name an executable ``[a=:]``; a guard event can carry a model
called ``gpt-4o[a=:]``. Parsed as markup, either ends the console with
``MarkupError`` the moment ``:`` opens the palette. Every such string must show
literally: in the palette's prompts and help, in notifications, in the source
banners (the footers of the panes), in the Plugins view.
"""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import Footer, OptionList
from textual.widgets._footer import FooterKey

from console.api import Batch, Command, Entity, Finding, Pane, Plugin, Source, Store
from console.core.plugins import PluginRecord, Registry
from console.core.runtime import CORE_PLUGIN
from console.ui.app import WatchfloorApp
from console.ui.commands import run_command
from tests.conftest import frozen_clock
from tests.hostile import CORPUS, MARKUP_CRASHERS

NAMES = (*MARKUP_CRASHERS, *CORPUS[:2])


class HostileSource(Source):
    """Entities and a failure whose every name is hostile."""

    name, type = "hostile[a=:]", "hostile"

    def __init__(self) -> None:
        self.polls = 0

    async def poll(self) -> Batch:
        self.polls += 1
        entities = [Entity("node/n1", NAMES[0])]
        for index, name in enumerate(NAMES):
            entities.append(Entity(f"job/{index}", name, attrs={"name": name, "user": name}))
            processes = [{"pid": 10 + index, "user": name, "command": name}]
            entities.append(
                Entity(f"gpu/n1/{index}", name, "node/n1", attrs={"processes": processes})
            )
        return Batch(entities=entities)


def hostile_findings(store: Store) -> list[Finding]:
    return [Finding(f"job/{i}", "security-guard", "warning", f"guard: model {name}")
            for i, name in enumerate(NAMES)]  # fmt: skip


def _raise(context: object, argument: str) -> None:
    raise RuntimeError(f"boom {MARKUP_CRASHERS[0]} {argument}")


def _app() -> WatchfloorApp:
    plugin = Plugin(
        "hostile",
        "1",
        panes=(Pane("hostile", f"pane {MARKUP_CRASHERS[2]}\x1b[2J", lambda c, r: None, key="x"),),
        analyzers=(hostile_findings,),
        commands=(Command("boom", f"help {MARKUP_CRASHERS[1]}", _raise),),
    )
    record = PluginRecord(
        "hostile", "1[A=:]", "loaded", plugin=plugin, origin="x:y[a=:]", distribution="[/]"
    )
    broken = PluginRecord("broken[b]", "0", "failed", reason=f"ImportError: {NAMES[2]}")
    registry = Registry.build([CORE_PLUGIN, plugin], [record, broken])
    return WatchfloorApp(registry, [HostileSource()], live=False, clock=frozen_clock)


async def test_the_palette_shows_hostile_names_literally() -> None:
    app = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("colon")
        assert isinstance(app.screen, CommandPalette)
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = app.screen.query_one(OptionList)
        prompts = [str(shown.get_option_at_index(i).prompt) for i in range(shown.option_count)]
        assert any(f"guard: model {MARKUP_CRASHERS[1]}" in p for p in prompts), prompts
        assert any(f"help {MARKUP_CRASHERS[1]}" in p for p in prompts)
        assert any(f"pane {MARKUP_CRASHERS[2]}" in p for p in prompts)
        await pilot.press(*"goto job/")
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = app.screen.query_one(OptionList)
        prompts = [str(shown.get_option_at_index(i).prompt) for i in range(shown.option_count)]
        for name in MARKUP_CRASHERS:  # entity names are the help of each goto
            assert any(name in p for p in prompts), name
        app.screen.refresh()
        await pilot.pause()
        assert app.is_running


async def test_notifications_banners_and_the_plugins_view_show_hostile_names() -> None:
    app = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.open(f"job/{MARKUP_CRASHERS[2]}")  # "nothing known as …"
        run_command(app, app.registry.commands[-1], MARKUP_CRASHERS[3])
        await pilot.pause()
        messages = [str(n.message) for n in app._notifications]
        assert any(f"nothing known as job/{MARKUP_CRASHERS[2]}" in m for m in messages)
        assert any(f"boom {MARKUP_CRASHERS[0]} {MARKUP_CRASHERS[3]}" in m for m in messages)
        footer = app.screen.query_one(Footer)
        keys = [str(key.render()) for key in footer.query(FooterKey)]
        assert any(f"pane {MARKUP_CRASHERS[2]}" in k and "\x1b" not in k for k in keys), keys
        await pilot.press("j")  # a pane with a banner (footer line) and hostile rows
        await pilot.pause()
        app.open_plugins_view()
        await pilot.pause()
        view = app.screen
        view.pane.show_plugin("plugin:broken[b]")  # type: ignore[attr-defined]
        await pilot.pause()
        detail = str(view.query_one("#plugin-detail").render())
        assert NAMES[2] in detail
        view.pane.show_plugin("plugin:hostile")  # type: ignore[attr-defined]
        await pilot.pause()
        assert "1[A=:]" in str(view.query_one("#plugin-detail").render())
        await app.screen.run_action("app.pop_screen")
        await pilot.pause()
        assert app.is_running
