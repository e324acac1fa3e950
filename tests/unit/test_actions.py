"""Console actions: what they run, when they are refused, and the audit log."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import psutil
import pytest

from console.acting.actions import (
    Action,
    Actions,
    append_line,
    audit_event,
    drain_reason,
    read_audit,
    slurm_action,
)
from console.acting.audit_source import AuditSource
from console.api import SourceError
from console.core.config import ConfigError, parse_config
from console.core.model import Finding
from console.core.runtime import build_sources, load_registry, make_actions
from console.core.store import Store

REGISTRY = load_registry()


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_each_action_says_exactly_what_it_runs() -> None:
    drain = slurm_action("drain", "node/gpu01", "XID 79\non gpu 3\x1b[31m")
    # One argv element per word: no shell ever sees the reason; control bytes are gone.
    assert drain.argv == ("scontrol", "update", "NodeName=gpu01", "State=DRAIN",
                          "Reason=XID 79 on gpu 3 [31m")  # fmt: skip
    assert drain.shown == "scontrol update NodeName=gpu01 State=DRAIN 'Reason=XID 79 on gpu 3 [31m'"
    assert slurm_action("resume", "node/gpu01").shown == (
        "scontrol update NodeName=gpu01 State=RESUME"
    )
    assert slurm_action("requeue", "job/4711").shown == "scontrol requeue 4711"
    assert slurm_action("hold", "job/900_3").shown == "scontrol hold 900_3"
    assert slurm_action("release", "job/900_3").shown == "scontrol release 900_3"
    assert slurm_action("cancel", "job/4711").shown == "scancel 4711"
    assert "drained from watchfloor by" in slurm_action("drain", "node/gpu01").reason
    with pytest.raises(ValueError, match="not a job ref"):
        slurm_action("requeue", "node/gpu01")
    with pytest.raises(ValueError, match="unknown action"):
        slurm_action("reboot", "node/gpu01")


async def test_refusals_run_nothing_and_are_audited(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = _script(tmp_path / "scontrol", f"touch {marker}\n")
    action = Action("drain", "node/gpu01", (command, "update"), "why")
    log = tmp_path / "state" / "actions.log"
    read_only = await Actions(read_only=True, audit_log=log).perform(action)
    assert read_only.status == "refused" and "--read-only" in read_only.message
    off = await Actions(enabled=False, audit_log=log).perform(action)
    assert off.status == "refused" and "enabled: false" in off.message
    assert not marker.exists()
    done = await Actions(audit_log=log).perform(action)
    assert done.ok and marker.exists()
    assert [e["outcome"] for e in read_audit(log)] == ["refused", "refused", "done"]
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


async def test_a_failure_is_the_commands_own_line(tmp_path: Path) -> None:
    complaint = "scontrol: error: Invalid node name specified"
    command = _script(tmp_path / "scontrol", f"echo '{complaint}' >&2\nexit 1\n")
    outcome = await Actions(audit_log=tmp_path / "a.log").perform(
        Action("drain", "node/x", (command,))
    )
    assert (outcome.status, outcome.message) == (
        "failed", "scontrol: error: Invalid node name specified"
    )  # fmt: skip
    missing = await Actions(audit_log=tmp_path / "a.log").perform(
        Action("drain", "node/x", (str(tmp_path / "nope"),))
    )
    assert missing.status == "failed" and missing.message.startswith("cannot run")


async def test_a_hanging_command_is_stopped_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child"
    command = _script(tmp_path / "scontrol", f"sleep 60 &\necho $! > {pid_file}\nwait\n")
    actions = Actions(audit_log=tmp_path / "a.log", timeout=1.0)
    started = time.monotonic()
    outcome = await actions.perform(Action("drain", "node/x", (command,)))
    assert time.monotonic() - started < 10
    assert outcome.status == "failed" and "took over 1s" in outcome.message
    child = int(pid_file.read_text())
    gone = not psutil.pid_exists(child) or psutil.Process(child).status() == "zombie"
    assert gone, "the command's child outlived the timeout"


async def test_the_audit_log_refuses_a_link_and_a_fifo(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    link = tmp_path / "link.log"
    link.symlink_to(target)
    fifo = tmp_path / "fifo.log"
    os.mkfifo(fifo)  # opened without blocking, then refused as not a regular file
    for path in (link, fifo):
        with pytest.raises(OSError):
            append_line(path, json.dumps({"action": "x"}) + "\n")
        with pytest.raises(SourceError, match="cannot read"):
            await AuditSource(path).poll()
    assert target.read_text() == ""


async def test_audit_entries_become_timeline_events(tmp_path: Path) -> None:
    log = tmp_path / "actions.log"
    actions = Actions(audit_log=log, user="alice", clock=lambda: 1_795_000_000.0)
    await actions.perform(Action("drain", "node/gpu01", ("false",), "bad fan"))
    await Actions(read_only=True, audit_log=log, user="bob").perform(
        slurm_action("cancel", "job/7")
    )
    with log.open("a") as handle:
        handle.write("not json\n[1, 2]\n")
    events = (await AuditSource(log).poll()).entities
    assert len(events) == 2
    drained = next(e for e in events if e.attrs["action"] == "drain")
    assert drained.parent == "node/gpu01" and drained.attrs["category"] == "action"
    assert drained.attrs["user"] == "alice" and drained.attrs["reason"] == "bad fan"
    refused = next(e for e in events if e.attrs["action"] == "cancel")
    assert refused.attrs["outcome"] == "refused" and "read-only" in refused.attrs["title"]
    assert audit_event({"time": "yesterday"}) is None


def test_drain_reason_is_the_worst_finding() -> None:
    store = Store()
    store.set_findings([
        Finding("gpu/gpu01/2", "gpu-hot", "warning", "gpu01 GPU 2 runs hot"),
        Finding("gpu/gpu01/3", "gpu-xid", "critical", "gpu01 GPU 3: XID 79 fell off the bus"),
        Finding("gpu/gpu02/0", "gpu-xid", "critical", "gpu02 GPU 0: XID 48"),
    ])  # fmt: skip
    assert drain_reason(store, "node/gpu01") == "watchfloor: gpu01 GPU 3: XID 79 fell off the bus"
    assert drain_reason(store, "gpu/gpu01/2") == "watchfloor: gpu01 GPU 2 runs hot"
    assert drain_reason(store, "node/gpu03") == ""


def test_actions_config(tmp_path: Path) -> None:
    config = parse_config(
        "actions:\n  enabled: false\n  audit_log: logs/actions.log\n",
        str(tmp_path / "c.yaml"), REGISTRY.source_types,
    )  # fmt: skip
    actions = make_actions(config)
    assert actions.audit_log == tmp_path / "logs" / "actions.log"
    assert actions.refusal() is not None
    assert make_actions(parse_config("", "c.yaml", REGISTRY.source_types), read_only=True).refusal()
    for text, message in (
        ("actions:\n  enabled: maybe\n", "c.yaml:2: actions: 'enabled' must be true/false"),
        ("actions:\n  audit: x\n", "c.yaml:2: actions: unknown key 'audit'"),
        ("actions: yes\n", "c.yaml:1: actions must be a mapping"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_config(text, "c.yaml", REGISTRY.source_types)
        assert str(info.value).startswith(message)
    # With actions configured, the audit log is read back for the security timeline.
    sources = build_sources(config_with_log(tmp_path), REGISTRY, None, local=False)
    assert [s.name for s in sources] == ["actions"]


def config_with_log(tmp_path: Path):  # type: ignore[no-untyped-def]
    return parse_config("actions:\n  audit_log: a.log\n", str(tmp_path / "c.yaml"),
                        REGISTRY.source_types)  # fmt: skip


async def test_nothing_is_done_that_cannot_be_audited(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = _script(tmp_path / "scontrol", f"touch {marker}\n")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the log's folder is a file: the log cannot be created
    outcome = await Actions(audit_log=blocked / "actions.log").perform(
        Action("drain", "node/gpu01", (command,))
    )
    assert outcome.status == "refused" and "cannot write the audit log" in outcome.message
    assert not marker.exists()


def test_who_acts_names_the_sudo_user(monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    monkeypatch.setattr(getpass, "getuser", lambda: "root")
    monkeypatch.setenv("SUDO_USER", "alice")
    assert Actions().user == "root (sudo by alice)"
    monkeypatch.delenv("SUDO_USER")
    assert Actions().user == "root"


def test_the_default_audit_log_is_read_back_once_it_exists(tmp_path: Path) -> None:
    from console.acting.actions import default_audit_log

    empty = parse_config("", "c.yaml", REGISTRY.source_types)
    assert build_sources(empty, REGISTRY, None, local=False) == []
    append_line(default_audit_log(), "")  # XDG_STATE_HOME is a temporary folder here
    assert [s.name for s in build_sources(empty, REGISTRY, None, local=False)] == ["actions"]
    off = parse_config("actions:\n  enabled: false\n", "c.yaml", REGISTRY.source_types)
    assert build_sources(off, REGISTRY, None, local=False) == []
