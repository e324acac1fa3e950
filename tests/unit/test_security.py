"""Security findings: the policy, unknown GPU processes, listeners, posture, events."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from console.analysis.policy import SECURITY, configure_security
from console.core.config import ConfigError, parse_config
from console.core.model import Batch, Entity
from console.core.runtime import load_registry
from console.core.store import Store
from watchfloor_security import exposure
from watchfloor_security.audit import (
    agent_posture,
    event_findings,
    unexpected_listeners,
    unknown_processes,
)
from watchfloor_security.exposure import listening_sockets

MINER = {"pid": 31337, "user": "nobody", "command": "/tmp/.x/xmrig --donate-level 1"}


@pytest.fixture(autouse=True)
def default_policy() -> Iterator[None]:
    configure_security({})
    yield
    configure_security({})


def _store(*entities: Entity, time: float = 1000.0) -> Store:
    store = Store()
    store.apply(Batch(entities=list(entities), time=time), "test", received=time)
    return store


def _gpu(processes: Any, ref: str = "gpu/n1/0") -> Entity:
    return Entity(ref, "GPU 0", "node/n1", {"processes": processes})


JOB = Entity("job/7", "train", attrs={"user": "alice", "gpus": ["gpu/n1/0"], "nodes": ["node/n1"]})


def test_a_process_of_no_known_job_is_critical_and_names_node_gpu_and_command() -> None:
    store = _store(JOB, _gpu([MINER, {"pid": 5, "user": "alice", "command": "python train.py"}]))
    [finding] = unknown_processes(store)
    assert (finding.ref, finding.kind, finding.severity) == (
        "gpu/n1/0", "security-unknown-process", "critical")  # fmt: skip
    assert "n1 GPU 0" in finding.title and "xmrig (pid 31337, user nobody)" in finding.title
    assert "command: /tmp/.x/xmrig --donate-level 1" in finding.evidence
    assert finding.related == ["node/n1"]


def test_job_processes_and_allowlisted_ones_are_not_findings() -> None:
    processes = [
        {"pid": 1, "user": "bob", "command": "python x.py", "slurm_job": "7"},  # its job is known
        {"pid": 2, "user": "alice", "command": "python y.py"},  # the GPU's job owner
        {"pid": 3, "user": "root", "command": "/usr/bin/nv-hostengine -n"},
    ]
    configure_security({"allowed_commands": ["nv-hostengine"]})
    assert list(unknown_processes(_store(JOB, _gpu(processes)))) == []
    configure_security({})
    [finding] = unknown_processes(_store(JOB, _gpu(processes)))
    assert "nv-hostengine" in finding.title


def test_a_process_claiming_a_job_the_scheduler_does_not_know_is_a_finding() -> None:
    claims = {**MINER, "slurm_job": "999"}
    [finding] = unknown_processes(_store(JOB, _gpu([claims])))
    assert any("claims job 999" in line for line in finding.evidence)


def test_without_jobs_or_an_allowlist_the_audit_stays_quiet() -> None:
    assert list(unknown_processes(_store(_gpu([MINER])))) == []
    configure_security({"allowed_users": ["alice"]})
    assert len(list(unknown_processes(_store(_gpu([MINER]))))) == 1


@pytest.mark.parametrize("junk", [None, "x", 5, [None, 3, "s", []], [{"pid": [1]}], {"a": 1}])
def test_junk_process_lists_from_a_node_do_not_break_the_audit(junk: Any) -> None:
    findings = list(unknown_processes(_store(JOB, _gpu(junk))))
    assert all(f.kind == "security-unknown-process" for f in findings)


def test_the_first_time_a_process_was_seen_is_kept() -> None:
    store = _store(JOB, _gpu([MINER]), time=1000.0)
    assert next(iter(unknown_processes(store))).since == 1000.0
    store.apply(Batch(entities=[_gpu([MINER])], time=1060.0), "test", received=1060.0)
    assert next(iter(unknown_processes(store))).since == 1000.0


def test_listeners_outside_the_policy_are_findings() -> None:
    listening = [
        {"addr": "0.0.0.0", "port": 22, "process": "sshd"},
        {"addr": "127.0.0.1", "port": 8888, "process": "jupyter-lab"},
        {"addr": "::1", "port": 631, "process": "cupsd"},
        {"addr": "0.0.0.0", "port": 8888, "process": "jupyter-lab"},
    ]
    store = _store(Entity("node/n1", "n1", attrs={"listening": listening}))
    [finding] = unexpected_listeners(store)
    assert finding.ref == "node/n1" and finding.severity == "warning"
    assert finding.evidence == ["unexpected listener 0.0.0.0:8888 (jupyter-lab)"]
    configure_security({"expected_listeners": ["*:22", "*:8888", "127.*:*", "[::1]:*"]})
    assert list(unexpected_listeners(store)) == []


def test_an_agent_beyond_loopback_without_tls_or_token_is_a_finding() -> None:
    def node(**agent: object) -> Store:
        return _store(Entity("node/n1", "n1", attrs={"agent": agent}))

    assert list(agent_posture(node(listen="127.0.0.1:9477", loopback=True))) == []
    assert list(agent_posture(node(listen="0.0.0.0:9477", loopback=False, tls=True,
                                   token=True))) == []  # fmt: skip
    [finding] = agent_posture(node(listen="0.0.0.0:9477", loopback=False, tls=False, token=True))
    assert finding.title == "agent on n1 serves 0.0.0.0:9477 without TLS"


def _guard(seq: int, time: float, severity: str = "warning", model: str = "llama") -> Entity:
    attrs = {"category": "guard", "kind": "prompt-injection", "severity": severity,
             "model": model, "excerpt": f"ignore previous instructions #{seq}", "time": time,
             "source": "gateway"}  # fmt: skip
    return Entity(f"event/n1/guard-{seq}", "prompt-injection on llama", "node/n1", attrs)


def test_guard_events_are_grouped_by_node_kind_and_model_within_the_window() -> None:
    store = _store(
        _guard(1, 50.0), _guard(2, 990.0), _guard(3, 995.0, "critical"),
        _guard(4, 996.0, model="other"), time=1000.0,
    )  # fmt: skip
    findings = sorted(event_findings(store), key=lambda f: f.title)
    assert [f.title for f in findings] == [
        "2 prompt-injection detections for llama on n1",  # #1 is older than 15 minutes
        "prompt-injection for other on n1",
    ]
    assert findings[0].severity == "critical" and findings[0].ref == "event/n1/guard-3"
    assert findings[0].evidence[0] == "latest: ignore previous instructions #3"


def test_integrity_and_refused_request_events_are_findings() -> None:
    changed = Entity("event/n1/integrity-1", "modified", "node/n1", {
        "category": "integrity", "severity": "critical", "change": "modified",
        "file": "/models/llama/model-00001.safetensors", "model": "llama",
        "old_sha256": "a" * 64, "new_sha256": "b" * 64, "time": 900.0})  # fmt: skip
    refused = Entity("event/n1/auth-10.0.0.5", "refused", "node/n1", {
        "category": "auth", "severity": "warning", "remote": "10.0.0.5", "count": 12,
        "path": "/v1/snapshot", "time": 950.0})  # fmt: skip
    by_kind = {f.kind: f for f in event_findings(_store(changed, refused))}
    model = by_kind["security-model-changed"]
    assert model.title == "modified model file on n1: model-00001.safetensors (llama)"
    assert f"old sha256 {'a' * 64}" in model.evidence and model.since == 900.0
    auth = by_kind["security-auth-failures"]
    assert auth.severity == "warning" and "12 request(s) from 10.0.0.5" in auth.title


def test_the_security_section_of_the_config_is_validated_with_file_and_line() -> None:
    types = load_registry().source_types
    config = parse_config("security:\n  allowed_users: [root]\n", "c.yaml", types)
    assert config.security == {"allowed_users": ["root"]}
    with pytest.raises(ConfigError, match=r"^c\.yaml:3: security: unknown key 'allowed'"):
        parse_config("interval: 1\nsecurity:\n  allowed: [root]\n", "c.yaml", types)
    with pytest.raises(ConfigError, match=r"^c\.yaml:2: security: 'allowed_users' must be a list"):
        parse_config("security:\n  allowed_users: root\n", "c.yaml", types)
    configure_security(config.security)
    assert SECURITY.allowed_users == ["root"] and "*:22" in SECURITY.expected_listeners


def test_a_real_listening_socket_is_reported_with_its_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (All listeners here: a machine running a simulated fleet has thousands, and the
    # first MAX_LISTENERS by port may not reach this one's.)
    monkeypatch.setattr(exposure, "MAX_LISTENERS", 1_000_000)
    with socket.socket() as server:
        server.bind(("0.0.0.0", 0))
        server.listen()
        port = server.getsockname()[1]
        found = [item for item in listening_sockets() if item["port"] == port]
    assert found == [{"addr": "0.0.0.0", "port": port, "pid": psutil.Process().pid,
                      "process": psutil.Process().name()}]  # fmt: skip
