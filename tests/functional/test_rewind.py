"""Rewind in the TUI, driven through Pilot: the console over its own recording.

The app's engine is driven (``engine.collect``) on the simulator's clock with the
recorder attached, so the recording is the one this console made; seeks run in a
worker thread and the tests wait for the workers, never for a time.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import OptionList

from console.analysis.jobs import job_state
from console.analysis.thresholds import THRESHOLDS
from console.collector.gate import INPUT_GATE
from console.core.config import Config, WallConfig
from console.core.plugins import discover
from console.core.runtime import DemoOptions, build_sources, load_registry
from console.recording import Recorder, Recording
from console.sim.cluster import EPOCH
from console.ui.app import WatchfloorApp
from console.ui.chrome import StatusHeader
from console.ui.kit import EntityTable
from console.ui.rewind import IncidentsScreen
from tests.conftest import frozen_clock

ONSET = 40.0
CYCLES = 80


def onset_app(**kw: object) -> WatchfloorApp:
    registry = load_registry([r for r in discover() if r.distribution == "watchfloor"])
    options = DemoOptions("congested-link", 1, 4, onset=ONSET)
    sources = build_sources(Config(), registry, options, local=False)
    return WatchfloorApp(registry, sources, live=False, clock=frozen_clock, **kw)  # type: ignore[arg-type]


async def record(app: WatchfloorApp, path: Path) -> Recorder:
    recorder = Recorder(path)
    recorder.attach(app.engine)
    app.recording = path
    for _ in range(CYCLES):
        await app.engine.collect(1)
        recorder.flush()
    return recorder


def header(app: WatchfloorApp) -> str:
    return str(app.screen.query_one(StatusHeader).render())


def screen_text(app: WatchfloorApp) -> str:
    return "\n".join(str(s.render()) for s in app.screen.query("Static"))


def table_text(app: WatchfloorApp, selector: str) -> str:
    """What the rows of a table say, as a user reads them."""
    table = app.screen.query_one(selector, EntityTable)
    return "\n".join(
        " ".join(cell.plain for cell in table.get_row(str(key))) for key in table._keys
    )


async def settle(app: WatchfloorApp, pilot: object) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


def clock(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when))


async def test_rewind_through_the_onset_shows_the_fleet_as_it_was(tmp_path: Path) -> None:
    app = onset_app()
    async with app.run_test(size=(120, 40)) as pilot:
        recorder = await record(app, tmp_path / "rec")
        live_time = app.store.time
        assert live_time is not None and live_time >= EPOCH + ONSET + THRESHOLDS.stall_seconds
        injected = app.store.source_meta["sim"]["injected"]
        victim, link, onset = injected["victim"], injected["link"], injected["onset"]
        assert job_state(app.store, victim) == "STALLED"
        app._redraw_screen()
        await pilot.pause()
        assert "stalled job 4711" in table_text(app, "#findings")  # live, as the page said

        app.rewind_to(clock(onset - 5))  # `:at HH:MM:SS`, before the onset
        await settle(app, pilot)
        assert app.rewind_at == onset - 5 and app.store is not app.live_store
        assert "REWIND" in header(app) and "s ago" in header(app)
        assert app.screen.query_one(StatusHeader).has_class("-rewind")
        assert job_state(app.store, victim) == "RUNNING"
        assert not [f for f in app.store.findings if f.ref in (victim, link)]
        assert "stalled" not in table_text(app, "#findings")
        assert "congested" not in table_text(app, "#findings")

        await pilot.press("right_square_bracket")  # ] : ten seconds on, past the onset
        await settle(app, pilot)
        assert app.rewind_at == onset + 5
        assert any(f.ref == link and f.kind == "link-congested" for f in app.store.findings)
        assert "congested" in table_text(app, "#findings")
        assert job_state(app.store, victim) == "RUNNING"  # not for stall_seconds yet

        await pilot.press("right_square_bracket", "right_square_bracket")
        await settle(app, pilot)
        assert app.rewind_at == onset + 25
        stalled = [f for f in app.store.findings if f.kind == "job-stalled" and f.ref == victim]
        assert stalled and stalled[0].since == onset  # the second the simulator says
        app.open(victim)  # the job's drill-down, as it was then: its ranked causes
        await pilot.pause()
        assert app.crumbs()[-1] == victim
        assert app.screen.query_one("#causes", EntityTable).selected_ref == link

        await pilot.press("escape")  # back to the overview, still rewound
        await pilot.pause()
        assert app.rewind_at is not None
        await pilot.press("escape")  # Esc at the top: live
        await pilot.pause()
        assert app.rewind_at is None and app.store is app.live_store
        assert "REWIND" not in header(app)
        assert not app.screen.query_one(StatusHeader).has_class("-rewind")

        await pilot.press("left_curly_bracket")  # { : a minute back
        await settle(app, pilot)
        assert app.rewind_at == live_time - 60 and "1 min ago" in header(app)
        await pilot.press("L")
        await pilot.pause()
        assert app.rewind_at is None
        recorder.close()


async def test_ago_incidents_and_the_help(tmp_path: Path) -> None:
    app = onset_app()
    async with app.run_test(size=(120, 40)) as pilot:
        recorder = await record(app, tmp_path / "rec")
        live_time = app.store.time or 0.0
        app.rewind_to("30s", ago=True)
        await settle(app, pilot)
        assert app.rewind_at == live_time - 30
        app.rewind_to("whenever")
        await pilot.pause()
        assert app.rewind_at == live_time - 30  # a bad time is a notice, nothing moves
        app.show_incidents()
        await settle(app, pilot)
        assert isinstance(app.screen, IncidentsScreen)
        listed = app.screen.query_one(OptionList)
        assert "job-stalled" in str(listed.get_option_at_index(0).prompt)
        await pilot.press("enter")  # the newest incident, at its start
        await settle(app, pilot)
        stalled_at = EPOCH + ONSET + THRESHOLDS.stall_seconds
        # A minute before it, or the recording's start (after the two warm cycles).
        assert app.rewind_at == max(stalled_at - 60, EPOCH + 2)
        app.rewind_to("1s", ago=True)
        await settle(app, pilot)
        await pilot.press("H")  # sparklines over the last hour
        await settle(app, pilot)
        assert app.hour_sparklines
        spread = app.store.history("gpu/node01/0", "gpu.util")
        assert len(spread) == 2  # the first keyframe (the next is not 150 s on), and now
        await pilot.press("question_mark")
        await pilot.pause()
        assert "rewind" in screen_text(app)
        recorder.close()


async def test_replay_of_another_console_shows_what_it_showed(tmp_path: Path) -> None:
    """The recording of one app, replayed in another: the stores match reading by
    reading, and the panes show the same findings."""
    maker = onset_app()
    async with maker.run_test(size=(120, 40)):
        recorder = await record(maker, tmp_path / "rec")
        recorder.close()
        live = maker.store
        expected = {(ref, metric): reading.value for ref, metric, reading in live.readings()}
        findings = [f.to_json() for f in live.findings]
    player = WatchfloorApp(
        load_registry([r for r in discover() if r.distribution == "watchfloor"]),
        [], live=False, clock=frozen_clock, analyzers=[],
    )  # fmt: skip
    player.recording = tmp_path / "rec"
    player.replay = (live.time or 0.0, 0.0)
    async with player.run_test(size=(120, 40)) as pilot:
        await settle(player, pilot)
        assert player.rewind_at == live.time
        got = {(ref, metric): reading.value for ref, metric, reading in player.store.readings()}
        assert got == expected
        assert [f.to_json() for f in player.store.findings] == findings
        assert "stalled job 4711" in table_text(player, "#findings")
        await pilot.press("left_square_bracket")
        await settle(player, pilot)
        assert player.rewind_at == (live.time or 0.0) - 10
        await pilot.press("L")  # a replay has no live: L goes to its end
        await settle(player, pilot)
        assert player.rewind_at == live.time
        player._play(5.0)  # the --speed tick at the end: nothing further to play
        await settle(player, pilot)
        assert player.rewind_at == live.time
        player.seek((live.time or 0.0) - 20)
        await settle(player, pilot)
        player._play(5.0)  # --speed 5: five recorded seconds a tick
        await settle(player, pilot)
        assert player.rewind_at == (live.time or 0.0) - 15


async def test_without_a_recording_rewind_says_so(make_app: object) -> None:
    app = make_app()  # type: ignore[operator]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert app.rewind_at is None


async def test_a_quiet_tick_prepares_the_rewind_ahead_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quiet redraw tick has the rewind's reader make, in its thread, what a first seek
    makes (``Recording.prepare``), once: the first ``[`` then finds it made."""
    prepared: list[float] = []
    real_prepare = Recording.prepare

    def counted(self: Recording) -> bool:
        prepared.append(1)
        return real_prepare(self)

    monkeypatch.setattr(Recording, "prepare", counted)
    app = onset_app()
    async with app.run_test(size=(120, 40)) as pilot:
        recorder = await record(app, tmp_path / "rec")  # 80 s: past PREPARE_AFTER
        monkeypatch.setattr(app, "_recorded_since", 0.0)  # all of it this session's
        monkeypatch.setattr(INPUT_GATE, "_held_since", time.monotonic())  # a key, not drawn
        app._tick()
        await settle(app, pilot)
        assert prepared == [] and app._reader is None
        monkeypatch.setattr(INPUT_GATE, "_held_since", None)
        monkeypatch.setattr(INPUT_GATE, "_last", -1e9)  # long quiet
        app._tick()
        await settle(app, pilot)
        assert prepared == [1] and app._reader is not None
        app._tick()
        await settle(app, pilot)
        assert prepared == [1]
        recording = app._reader._recording
        assert recording is not None and recording._last_index is not None
        index = recording._last_index
        await pilot.press("left_square_bracket")
        await settle(app, pilot)
        assert app.rewind_at is not None and recording._last_index is index  # not made again
        recorder.close()
    wall = onset_app(wall=WallConfig())  # a wall never rewinds: nothing made for it
    async with wall.run_test(size=(120, 40)) as pilot:
        recorder = await record(wall, tmp_path / "wall")
        wall._tick()
        await settle(wall, pilot)
        assert prepared == [1] and wall._reader is None
        recorder.close()


async def test_a_rewind_decodes_in_its_thread_the_attrs_the_view_on_screen_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GPU pane reads every GPU's attrs when drawn (``Pane.reads``): its rewind asks
    the seek's thread to decode them; the overview and a GPU's detail view ask none."""
    from console.ui.rewind import RewindReader

    asked: list[tuple[str, ...]] = []
    real_load = RewindReader.load

    def spied(self: RewindReader, when: float, hour: bool = False, attrs_of: object = ()) -> object:
        asked.append(tuple(attrs_of))  # type: ignore[call-overload]
        return real_load(self, when, hour, attrs_of)  # type: ignore[arg-type]

    monkeypatch.setattr(RewindReader, "load", spied)
    app = onset_app()
    async with app.run_test(size=(120, 40)) as pilot:
        recorder = await record(app, tmp_path / "rec")
        await pilot.press("left_square_bracket")  # on the overview
        await settle(app, pilot)
        await pilot.press("g", "left_square_bracket")  # on the GPU pane
        await settle(app, pilot)
        assert app.crumbs()[-1] == "GPUs"
        app.open("gpu/node01/0")  # a GPU's detail view reads its own attrs alone
        await pilot.pause()
        await pilot.press("left_square_bracket")
        await settle(app, pilot)
        assert asked == [(), ("gpu",), ()]
        recorder.close()
