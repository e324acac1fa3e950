"""Actions offered from the GPU screen, the overview's findings and the job screen, on the
simulated cluster: what each would run (answered no, so no Slurm is needed), and the audit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.widgets import Static

from console.acting.actions import Actions, read_audit
from console.ui.app import WatchfloorApp
from console.ui.kit import ActionScreen, EntityTable

AppFactory = Callable[..., WatchfloorApp]
LOST = "GPU node03/5 lost: XID 79: GPU has fallen off the bus"


async def test_drain_from_the_gpu_screen_takes_the_finding_as_reason(
    make_app: AppFactory, tmp_path: Path
) -> None:
    log = tmp_path / "actions.log"
    app = make_app(scenario="xid-error", actions=Actions(audit_log=log))
    async with app.run_test(size=(80, 24)) as pilot:
        app.open("gpu/node03/5")
        await pilot.pause()
        await pilot.press("d")
        assert isinstance(app.screen, ActionScreen)
        action = app.screen.action_to_run
        assert action.argv == ("scontrol", "update", "NodeName=node03", "State=DRAIN",
                               f"Reason=watchfloor: {LOST}")  # fmt: skip
        text = " ".join(str(app.screen.query_one("#question", Static).render()).split())
        assert "drain node/node03" in text and "runs: scontrol update NodeName=node03" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, ActionScreen)
        await app.workers.wait_for_complete()
    assert [(e["action"], e["outcome"], e["reason"]) for e in read_audit(log)] == [
        ("drain", "declined", f"watchfloor: {LOST}")
    ]


async def test_drain_from_the_overview_findings(make_app: AppFactory, tmp_path: Path) -> None:
    app = make_app(scenario="xid-error", actions=Actions(audit_log=tmp_path / "a.log"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        findings = app.screen.query_one("#findings", EntityTable)
        assert app.screen.focused is findings and findings.selected_ref == "gpu/node03/5"
        await pilot.press("d")
        assert isinstance(app.screen, ActionScreen)
        assert app.screen.action_to_run.target == "node/node03"
        assert app.screen.action_to_run.reason == f"watchfloor: {LOST}"
        await pilot.press("escape")


async def test_job_actions_and_a_disabled_console(make_app: AppFactory, tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    app = make_app(actions=Actions(audit_log=log))
    async with app.run_test(size=(80, 24)) as pilot:
        app.open("job/4711")
        await pilot.pause()
        shown = []
        for key in ("r", "h", "u", "x"):
            await pilot.press(key)
            assert isinstance(app.screen, ActionScreen)
            shown.append(app.screen.action_to_run.shown)
            await pilot.press("n")
        assert shown == ["scontrol requeue 4711", "scontrol hold 4711", "scontrol release 4711",
                         "scancel 4711"]  # fmt: skip
    off = make_app(actions=Actions(enabled=False, audit_log=log))
    async with off.run_test(size=(80, 24)) as pilot:
        off.open("job/4711")
        await pilot.pause()
        await pilot.press("x")
        assert not isinstance(off.screen, ActionScreen)
        await off.workers.wait_for_complete()
        said = [str(n.message) for n in off._notifications]
        assert any("actions are turned off" in line and "scancel 4711" in line for line in said)
    outcomes = [(e["action"], e["outcome"]) for e in read_audit(log)]
    assert outcomes[-1] == ("cancel", "refused") and len(outcomes) == 5


async def test_hostile_slurm_reasons_show_as_plain_text(make_app: AppFactory) -> None:
    from console.core.model import Batch, Entity
    from tests.hostile import CORPUS

    app = make_app(actions=Actions(read_only=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        reason = " ".join(CORPUS[:8])
        node = Entity("node/node01", "node01", attrs={"slurm_state": "drained[/b]",
                                                      "slurm_reason": reason})  # fmt: skip
        app.store.apply(Batch(entities=[node]), "slurm:nodes", 0.0)
        app.open("node/node01")
        await pilot.pause()
        summary = app.screen.query_one("#summary").render()
        shown = str(summary)
        assert "drained[/b] ([red]REDMARKUP[/red]" in shown
        assert "\x1b" not in shown and "\u202e" not in shown and "\x9b" not in shown
        await pilot.press("d")  # the default reason never carries control characters
        said = " ".join(str(n.message) for n in app._notifications)
        assert "\x1b" not in said and "read-only mode: refused" in said


async def test_the_drain_reason_can_be_edited_and_the_command_follows(
    make_app: AppFactory, tmp_path: Path
) -> None:
    log = tmp_path / "a.log"
    app = make_app(scenario="xid-error", actions=Actions(audit_log=log, read_only=False))
    async with app.run_test(size=(80, 24)) as pilot:
        app.open("node/node03")
        await pilot.pause()
        await pilot.press("d")
        assert isinstance(app.screen, ActionScreen)
        await pilot.press("ctrl+a", "ctrl+k", *"psu swap, ticket 42")
        shown = " ".join(str(app.screen.query_one("#question", Static).render()).split())
        assert "State=DRAIN 'Reason=psu swap, ticket 42'" in shown
        assert app.screen.action_to_run.reason == "psu swap, ticket 42"
        await pilot.press("escape")
    assert read_audit(log)[-1]["outcome"] == "declined"


async def test_an_unwritable_audit_log_refuses_with_a_message(
    make_app: AppFactory, tmp_path: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    app = make_app(actions=Actions(audit_log=blocked / "actions.log"))
    async with app.run_test(size=(80, 24)) as pilot:
        app.open("job/4711")
        await pilot.pause()
        await pilot.press("h", "y")
        await app.workers.wait_for_complete()
        said = " ".join(str(n.message) for n in app._notifications)
        assert "hold job/4711 refused: cannot write the audit log" in said


async def test_confirm_dangerous_goes_through_the_audited_path(
    make_app: AppFactory, tmp_path: Path
) -> None:
    from console.ui.kit import confirm_dangerous

    log = tmp_path / "a.log"
    app = make_app(actions=Actions(audit_log=log))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        confirm_dangerous(app, app, "Reset the widget?", lambda: "widget reset")
        await pilot.pause()
        assert isinstance(app.screen, ActionScreen)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        said = [str(n.message) for n in app._notifications]
        assert "Reset the widget?: done: widget reset" in said, said
    assert [(e["action"], e["command"], e["outcome"]) for e in read_audit(log)] == [
        ("run", "Reset the widget?", "done")
    ]
