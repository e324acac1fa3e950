"""The GPU pane: fleet table, sorting, detail, and the dangerous kill action."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from rich.text import Text
from textual.widgets import Static

from console.core.plugins import Registry
from console.core.runtime import CORE_PLUGIN, load_registry
from console.ui.app import WatchfloorApp
from console.ui.kit import ActionScreen, EntityTable
from tests.conftest import frozen_clock
from tests.fakes.fake_nvml import FakeGpu, FakeNvml
from watchfloor_gpu import plugin as gpu_plugin
from watchfloor_gpu.nvml import NvmlSource

AppFactory = Callable[..., WatchfloorApp]


def _text(app: WatchfloorApp) -> str:
    return "\n".join(str(s.render()) for s in app.screen.query("Static"))


async def test_sorting_by_health_puts_the_throttled_gpu_first(make_app: AppFactory) -> None:
    app = make_app(scenario="thermal-throttle")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        table = app.screen.query_one(EntityTable)
        assert table.row_count == 32
        assert table.selected_ref == "gpu/node01/0"  # natural order first
        await pilot.press("s")  # by util: busiest first
        assert table.get_row(table.selected_ref or "")[1].plain == "90%"
        await pilot.press("s", "s", "s")  # util → temp → power → health
        assert "by health" in _text(app)
        assert table.selected_ref == "gpu/node01/3"
        assert table.get_row("gpu/node01/3")[6].plain == "sw thermal, hw thermal"


async def test_more_gpus_than_lines_open_worst_first_until_s_chooses(
    make_app: AppFactory,
) -> None:
    app = make_app(scenario="thermal-throttle")
    async with app.run_test(size=(120, 24)) as pilot:  # 32 GPUs, 24 lines
        await pilot.press("g")
        table = app.screen.query_one(EntityTable)
        assert table.selected_ref == "gpu/node01/3"  # the throttled one, not node01/0
        await pilot.press("s")  # chosen: by util, busiest first, as at any size
        assert "by util" in _text(app)
        await pilot.press("s", "s", "s", "s")  # … health → node: the order asked for
        assert "by node" in _text(app) and table.row_keys[0] == "gpu/node01/0"


async def test_detail_says_why_a_gpu_is_throttled(make_app: AppFactory) -> None:
    app = make_app(scenario="thermal-throttle")
    async with app.run_test(size=(120, 50)) as pilot:
        app.open("gpu/node01/3")
        await pilot.pause()
        text = _text(app)
        assert "software thermal slowdown, hardware thermal slowdown" in text
        assert "Gen5 x16" in text and "18/18 up" in text
        assert "throttled GPU node01/3" in text  # the finding, with its evidence
        processes = app.screen.query_one("#processes", EntityTable)
        assert processes.row_count == 1


async def test_a_detail_line_that_changes_only_its_style_is_shown_anew(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        app.open("gpu/node01/0")
        await pilot.pause()
        pane = app.screen.pane  # type: ignore[attr-defined]
        identity = app.screen.query_one("#identity", Static)
        pane.show_text("identity", Text("node01/0: no longer reported"))
        pane.show_text("identity", Text("node01/0: no longer reported", style="dim"))
        shown = identity.content
        assert isinstance(shown, Text) and shown.style == "dim"  # not the plain one kept


async def test_a_lost_gpu_shows_its_xid(make_app: AppFactory) -> None:
    app = make_app(scenario="xid-error")
    async with app.run_test(size=(120, 50)) as pilot:
        app.open("gpu/node03/5")
        await pilot.pause()
        text = _text(app)
        assert "lost: XID 79: GPU has fallen off the bus" in text
        assert "last XID           79 (GPU has fallen off the bus)" in text


async def test_kill_is_refused_for_a_remote_gpu(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.open("gpu/node01/0")
        await pilot.pause()
        await pilot.press("k")
        assert not isinstance(app.screen, ActionScreen)
        assert any("is not on this machine" in str(n.message) for n in app._notifications)


def _local_app(pid: int, read_only: bool) -> tuple[WatchfloorApp, str]:
    fake = FakeNvml([FakeGpu(processes=[(pid, 512)])])
    source = NvmlSource(1.0, nvml=fake)  # type: ignore[arg-type]
    registry = Registry.build([CORE_PLUGIN, gpu_plugin])
    app = WatchfloorApp(registry, [source], live=False, clock=frozen_clock, read_only=read_only)
    return app, f"gpu/{source.reader.node}/0"  # type: ignore[union-attr]


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """A real process to kill: it waits on its stdin until it is ended."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


async def test_killing_a_local_process_needs_confirmation(victim: subprocess.Popen[bytes]) -> None:
    app, ref = _local_app(victim.pid, read_only=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open(ref)
        await pilot.pause()
        await pilot.press("k")
        assert isinstance(app.screen, ActionScreen)
        assert f"SIGTERM to pid {victim.pid}" in app.screen.action_to_run.shown
        await pilot.press("n")
        assert victim.poll() is None  # cancelled: still running
        await pilot.press("k", "y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any(f"pid {victim.pid} ended after SIGTERM" in str(n.message)
                   for n in app._notifications)  # fmt: skip


async def test_read_only_refuses_to_kill(victim: subprocess.Popen[bytes]) -> None:
    app, ref = _local_app(victim.pid, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open(ref)
        await pilot.pause()
        await pilot.press("k")
        assert not isinstance(app.screen, ActionScreen)
        assert any("read-only mode: refused" in str(n.message) for n in app._notifications)
        assert victim.poll() is None


def test_registry_fixture_has_the_gpu_pane() -> None:
    registry = load_registry()
    pane = registry.pane_for("gpu")
    assert pane is not None and pane.key == "g"


async def test_processes_an_agent_left_out_are_counted_in_the_detail() -> None:
    from console.api import Batch, Entity, Source

    class Crowded(Source):  # as the agent client hands them on: 256 kept, the rest counted
        name, type = "crowded", "test"

        async def poll(self) -> Batch:
            processes = [{"pid": i, "user": "u", "command": "python"} for i in range(256)]
            gpu = Entity("gpu/n1/0", "GPU 0", "node/n1",
                         attrs={"processes": processes, "processes_dropped": 199_744})  # fmt: skip
            return Batch(entities=[Entity("node/n1", "n1"), gpu])

    app = WatchfloorApp(load_registry(), [Crowded()], live=False, clock=frozen_clock)
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.pause()
        app.open("gpu/n1/0")
        await pilot.pause()
        assert "256 shown, 199,744 more not sent by the agent" in _text(app)
        assert app.screen.query_one("#processes", EntityTable).row_count == 256


def test_the_health_order_puts_the_sick_and_throttled_first_keeping_each_rank_in_order() -> None:
    from console.api import Entity
    from watchfloor_gpu.pane import by_health

    def gpu(name: str, health: str, throttled: bool) -> Entity:
        return Entity(f"gpu/{name}", name, None, {"health": health, "throttled": throttled})

    gpus = [gpu("a", "ok", False), gpu("b", "ok", True), gpu("c", "XID 79", False),
            gpu("d", "ok", False), gpu("e", "XID 48", True), gpu("f", "ok", True),
            gpu("g", "lost", False)]  # fmt: skip
    assert [g.name for g in by_health(gpus)] == ["e", "c", "g", "b", "f", "a", "d"]
