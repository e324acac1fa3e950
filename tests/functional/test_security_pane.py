"""The security pane under Pilot: posture, timeline, drill-down; hostile strings stay text."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Static

from console.api import Batch, Entity, Source
from console.core.plugins import Registry, discover
from console.core.runtime import CORE_PLUGIN
from console.core.text import plain
from console.ui.app import WatchfloorApp
from console.ui.kit import EntityTable
from tests.conftest import FROZEN_NOW, frozen_clock
from tests.hostile import CORPUS, SHOWN
from watchfloor_security.pane import NO_EVENTS, TIMELINE_TITLE

AppFactory = Callable[..., WatchfloorApp]


def _table(app: WatchfloorApp, selector: str) -> EntityTable:
    return app.screen.query_one(selector, EntityTable)


def _texts(table: EntityTable) -> list[str]:
    return [" | ".join(c.plain for c in table.get_row(key)) for key in table._keys]


async def test_rogue_process_shows_in_the_overview_and_the_pane_and_opens_its_gpu(
    make_app: AppFactory,
) -> None:
    app = make_app(scenario="rogue-process")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        findings = _texts(_table(app, "#findings"))
        assert findings == ["✖ CRITICAL | unknown process on node04 GPU 7: "
                            "xmrig (pid 31337, user nobody) | gpu/node04/7"]  # fmt: skip
        await pilot.press("s")
        assert app.crumbs() == ["Overview", "Security"]
        posture = _table(app, "#posture")
        assert posture.get_row("node/node04")[1].plain == "5, 1 UNKNOWN"
        assert posture.get_row("node/node01")[1].plain == "8"
        timeline = _table(app, "#timeline")
        assert timeline._keys == ["security-unknown-process|gpu/node04/7"]
        timeline.focus()
        await pilot.press("enter")
        assert app.crumbs() == ["Overview", "Security", "gpu/node04/7"]
        screen = app.export_screenshot()
        assert "/tmp/.x/xmrig" in screen.replace("&#160;", " ")  # the process list shows it


async def test_tampered_model_event_opens_its_detail_then_the_node_and_the_job(
    make_app: AppFactory,
) -> None:
    app = make_app(scenario="tampered-model")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        posture = _table(app, "#posture")
        assert posture.get_row("node/node04")[3].plain == "12/12 ok, 1 CHANGED"
        timeline = _table(app, "#timeline")
        assert timeline._keys == ["event/node04/integrity-1"]
        timeline.focus()
        await pilot.press("enter")
        assert app.crumbs()[-1] == "event/node04/integrity-1"
        facts = str(app.screen.query_one("#facts").render())
        assert "/models/llm-serve-8b/model-00002-of-00004.safetensors" in facts
        assert "new_sha256" in facts and "old_sha256" in facts
        related = _table(app, "#related")
        assert related._keys == ["node/node04", "job/4713"]
        related.focus()
        await pilot.press("down", "enter")
        assert app.crumbs()[-1] == "job/4713"
        await pilot.press("escape", "up", "enter")
        assert app.crumbs()[-1] == "node/node04"


class Hostile(Source):
    """A source whose every string is hostile: job names, hostnames, commands, events."""

    name, type = "hostile", "test"

    async def poll(self) -> Batch:
        entities = []
        for index, text in enumerate(CORPUS):
            node = f"node/h{index}"
            entities += [
                Entity(node, text, attrs={"listening": [{"addr": "0.0.0.0", "port": 8000 + index,
                                                         "process": text}]}),
                Entity(f"gpu/h{index}/0", text, node, attrs={"processes": [
                    {"pid": 100 + index, "user": text, "command": text}]}),
                Entity(f"job/{index}", text, attrs={"name": text, "user": text,
                                                    "state": "RUNNING", "nodes": [node]}),
                Entity(f"event/h{index}/guard-1", text, node, attrs={
                    "category": "guard", "kind": text, "severity": "critical", "model": text,
                    "excerpt": text, "time": FROZEN_NOW}),
            ]  # fmt: skip
        return Batch(entities=entities, time=FROZEN_NOW)


def _assert_inert(svg: str) -> None:
    for needle in ("\x1b", "\u202e", "\u2066", "\x9b", "\x9d", "SE9TVElMRQ", "example/osc8"):
        assert needle not in svg, repr(needle)


async def test_hostile_strings_render_as_literal_text_in_every_security_view() -> None:
    registry = Registry.build([CORE_PLUGIN, *(r.plugin for r in discover() if r.plugin)])
    app = WatchfloorApp(registry, [Hostile()], live=False, clock=frozen_clock)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        screens = [app.export_screenshot()]
        names = _texts(_table(app, "#jobs"))
        assert any("[red]REDMARKUP[/red]" in row for row in names)
        await pilot.press("s")
        timeline = _table(app, "#timeline")
        rows = _texts(timeline)
        for shown in SHOWN:
            assert any(shown in row for row in rows), shown
        for key in timeline._keys:
            for text in timeline.get_row(key):
                assert not text.spans or key.startswith("security-")  # no markup took effect
        screens.append(app.export_screenshot())
        timeline.focus()
        await pilot.press("enter")  # the newest event's detail
        screens.append(app.export_screenshot())
        await pilot.press("escape", "g", "enter")
        screens.append(app.export_screenshot())
    for svg in screens:
        _assert_inert(svg)
    # The very long string was cut rather than flooding the screen.
    assert all(len(row) < 1000 for row in rows)
    assert plain(CORPUS[-1]).endswith("…")


async def test_the_timeline_says_when_there_is_no_event_and_titles_events_when_some_come(
    make_app: AppFactory,
) -> None:
    quiet, tampered = make_app(scenario="healthy"), make_app(scenario="tampered-model")
    for app, title in ((quiet, NO_EVENTS), (tampered, TIMELINE_TITLE)):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("s")
            await pilot.pause()
            shown = app.screen.query_one("#timeline-title", Static).render()
            assert str(shown) == title
