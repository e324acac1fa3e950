"""Actions from the screens, under Pilot, against the tests' real Slurm cluster."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from console.acting.actions import Actions, read_audit
from console.core.config import parse_config
from console.core.runtime import build_sources, load_registry
from console.ui.app import WatchfloorApp
from console.ui.kit import ActionScreen, EntityTable
from tests.conftest import frozen_clock
from tests.slurm_cluster import SlurmCluster
from tests.waiting import wait_for

REGISTRY = load_registry()


def _app(tmp_path: Path, read_only: bool = False) -> tuple[WatchfloorApp, Path]:
    log = tmp_path / "actions.log"
    config = parse_config(
        f"sources:\n  - type: slurm\n    squeue: squeue\nactions:\n  audit_log: {log}\n",
        str(tmp_path / "config.yaml"), REGISTRY.source_types,
    )  # fmt: skip
    sources = build_sources(config, REGISTRY, None, local=False)
    app = WatchfloorApp(REGISTRY, sources, live=False, clock=frozen_clock, read_only=read_only,
                        actions=Actions(audit_log=log))  # fmt: skip
    return app, log


def _said(app: WatchfloorApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_drain_from_the_node_screen_then_read_only_refuses(
    slurm: SlurmCluster, tmp_path: Path
) -> None:
    app, log = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open("node/gpu01")
        await pilot.pause()
        await pilot.press("d")
        assert isinstance(app.screen, ActionScreen)
        action = app.screen.action_to_run
        assert action.shown.startswith("scontrol update NodeName=gpu01 State=DRAIN 'Reason=")
        await pilot.press("enter")  # the reason offered, as it stands
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("drain node/gpu01: done" in said for said in _said(app)), _said(app)
    assert slurm.node_state("gpu01") == ("drained", action.reason)

    slurm.run("scontrol", "update", "NodeName=gpu01", "State=RESUME")
    read_only, _ = _app(tmp_path, read_only=True)
    async with read_only.run_test(size=(80, 24)) as pilot:
        read_only.open("node/gpu01")
        await pilot.pause()
        await pilot.press("d")
        assert not isinstance(read_only.screen, ActionScreen)  # nothing to confirm
        await read_only.workers.wait_for_complete()
        assert any("read-only mode: refused" in said for said in _said(read_only))
    assert slurm.node_state("gpu01") == ("idle", "")  # Slurm unchanged
    audit = [(e["action"], e["target"], e["outcome"]) for e in read_audit(log)]
    assert audit == [("drain", "node/gpu01", "done"), ("drain", "node/gpu01", "refused")]

    # Both attempts are on the security pane's timeline (read back from the audit log).
    later, _ = _app(tmp_path)
    async with later.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        timeline = later.screen.query_one("#timeline", EntityTable)
        rows = [" | ".join(c.plain for c in timeline.get_row(key)) for key in timeline._keys]
        assert any("action | gpu01 | root: drain node/gpu01 — done (" in row for row in rows), rows
        assert any("drain node/gpu01 — refused (read-only mode" in row for row in rows), rows


async def test_the_node_screen_shows_slurms_state_and_reason(
    slurm: SlurmCluster, tmp_path: Path
) -> None:
    slurm.run("scontrol", "update", "NodeName=gpu02", "State=DRAIN", "Reason=fan failure")
    app, _ = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        nodes = app.screen.query_one("#nodes", EntityTable)
        assert [c.plain for c in nodes.get_row("node/gpu02")][:2] == [
            "gpu02 drained", "8 GPUs (Slurm)"
        ]  # fmt: skip
        assert nodes.get_row("node/gpu01")[0].plain == "gpu01 idle"
        app.open("node/gpu02")
        await pilot.pause()
        summary = str(app.screen.query_one("#summary").render())
        assert "slurm  drained (fan failure)   8 GPUs" in summary, summary


async def test_requeue_from_the_job_screen(slurm: SlurmCluster, tmp_path: Path) -> None:
    job = slurm.submit("--gres=gpu:2", "-w", "gpu02")
    wait_for(lambda: slurm.job_state(job) == "RUNNING", 60, "running")
    app, log = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open(f"job/{job}")
        await pilot.pause()
        await pilot.press("r")
        assert isinstance(app.screen, ActionScreen)
        assert app.screen.action_to_run.shown == f"scontrol requeue {job}"
        await pilot.press("y")
        await app.workers.wait_for_complete()
    wait_for(lambda: slurm.job_state(job) in ("PENDING", "REQUEUED"), 30, "requeued")
    assert read_audit(log)[-1]["outcome"] == "done"


async def test_a_slow_failing_scontrol_never_freezes_the_ui(
    slurm: SlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    complaint = "slurm_update error: Invalid node name specified"
    scontrol.write_text(f"#!/bin/sh\nsleep 3\necho '{complaint}' >&2\nexit 1\n")
    scontrol.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    app, log = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open("node/gpu01")
        await pilot.pause()
        await pilot.press("d", "enter")
        started = time.monotonic()
        # While scontrol sleeps, keys still work: help opens and closes at once.
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert time.monotonic() - started < 2.0, "a key waited for scontrol"
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any(
            "drain node/gpu01 failed: slurm_update error: Invalid node name specified" in said
            for said in _said(app)
        ), _said(app)
    assert read_audit(log)[-1]["outcome"] == "failed"


async def test_drain_and_resume_from_the_palette(slurm: SlurmCluster, tmp_path: Path) -> None:
    app, log = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("colon", *"drain gpu02 bad psu", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ActionScreen)
        assert app.screen.action_to_run.shown == (
            "scontrol update NodeName=gpu02 State=DRAIN 'Reason=bad psu'"
        )
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        assert slurm.node_state("gpu02") == ("drained", "bad psu")
        await pilot.press("colon", *"resume node/gpu02", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ActionScreen)
        await pilot.press("y")
        await app.workers.wait_for_complete()
    wait_for(lambda: slurm.node_state("gpu02")[0] == "idle", 30, "resumed")
    assert [e["action"] for e in read_audit(log)] == ["drain", "resume"]
