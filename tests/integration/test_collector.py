"""The console's collector process: collection stalls there, keys are answered here."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest

from console.collector.process import CollectorError, running_collector
from console.core.runtime import load_registry
from console.serve.source import RelaySource
from console.serve.wire import relayed_findings
from console.ui.app import WatchfloorApp
from console.ui.screens import ViewScreen
from tests.conftest import PLUGIN_PACKAGES


def blocking_plugin_site(tmp_path: Path) -> Path:
    """A site directory with ``wf_blocking_source`` installed (a real entry point)."""
    site = tmp_path / "site"
    shutil.copytree(PLUGIN_PACKAGES / "wf_blocking_source", site / "wf_blocking_source")
    info = site / "wf_blocking_source-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: wf-blocking-source\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[watchfloor.plugins]\nblocking = wf_blocking_source:plugin\n"
    )
    return site


async def until(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.02)


def fresh_block(mark: Path) -> bool:
    """Whether the collector began a blocking poll less than half a second ago."""
    try:
        return time.time() - float(mark.read_text()) < 0.5
    except (OSError, ValueError):
        return False


async def test_a_key_is_answered_while_the_collector_is_stuck(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = tmp_path / "blocking"
    monkeypatch.setenv("PYTHONPATH", str(blocking_plugin_site(tmp_path)))
    monkeypatch.setenv("WF_BLOCKING_MARK", str(mark))
    config = tmp_path / "config.yaml"
    config.write_text("interval: 0.5\nsources:\n  - type: block\n")
    flags = ["--demo", "--config", str(config)]
    with running_collector(flags) as collector:
        # In the UI's session (one scheduling group: the terminal's input thread is not
        # starved by the collector's group) but not its process group (Ctrl+C is the UI's).
        pid = collector.process.pid
        assert os.getsid(pid) == os.getsid(0) and os.getpgid(pid) == pid != os.getpgid(0)
        relay = RelaySource(collector.url, collector.token, 0.5, timeout=30.0, own=True)
        app = WatchfloorApp(load_registry(), [relay], interval=0.5, analyzers=[relayed_findings])
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: app.store.count("gpu") > 0, 60, "data from the collector")
            await until(lambda: fresh_block(mark), 30, "the collector entering a blocking poll")
            stuck_since = float(mark.read_text())
            await pilot.press("g")
            await until(
                lambda: isinstance(app.screen, ViewScreen) and app.screen.view == "gpus",
                10, "the GPU pane",
            )  # fmt: skip
            await pilot.pause()
            answered = time.time()
            # The collector is still in the same blocking poll: the key did not wait for it.
            assert mark.exists() and float(mark.read_text()) == stuck_since
            assert answered - stuck_since < 3.0
            assert app.screen.query("EntityTable")  # the pane is drawn, from the data at hand


def test_a_collector_that_cannot_start_says_why(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("sources:\n  - type: nosuchtype\n")
    with (
        pytest.raises(CollectorError, match="nosuchtype"),
        running_collector(["--config", str(config)]),
    ):
        pass
