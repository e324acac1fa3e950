"""Security findings from what the sources report.

- unknown GPU processes: on a GPU, a process that belongs to no known job and
  whose user or command the policy does not allow;
- unexpected listeners: sockets the policy does not expect (a notebook on 0.0.0.0);
- agent posture: an agent reachable beyond its node without TLS or a token;
- events: changed model files, refused agent requests, guard detections.

The policy is ``SECURITY`` (``security:`` in the config). Every string here
came from a node and is shown as plain text by the panes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from console.api import SECURITY, Entity, Finding, Store, natural_sorted, plain

GUARD_WINDOW = 900.0
"""Guard detections newer than this (seconds) are findings; older ones stay in the timeline."""
MAX_PROCESSES = 64
"""Processes audited per GPU (a list longer than any GPU holds is junk)."""
AUTH_WARNING = 5
"""Refused requests from one address from which it is a warning rather than info."""


def _short(ref: str) -> str:
    return ref.split("/", 1)[-1]


def _first_seen(store: Store, key: str, now: float, seen: set[str]) -> float:
    since: dict[str, float] = store.analysis_state.setdefault("security_since", {})
    seen.add(key)
    return since.setdefault(key, now)


def _forget(store: Store, seen: set[str], prefix: str) -> None:
    since: dict[str, float] = store.analysis_state.setdefault("security_since", {})
    for key in [k for k in since if k.startswith(prefix) and k not in seen]:
        del since[key]


def _node_gpu(ref: str) -> str:
    """``node04 GPU 7`` for ``gpu/node04/7``."""
    _, node, index = [*ref.split("/"), "?", "?"][:3]
    return f"{node} GPU {index}"


def process_text(process: dict[str, Any]) -> str:
    """``xmrig (pid 31337, user nobody)``."""
    command = str(process.get("command") or "?")
    name = command.split()[0].rsplit("/", 1)[-1] if command.strip() else "?"
    return f"{name} (pid {process.get('pid', '?')}, user {process.get('user') or '?'})"


def unknown_processes(store: Store) -> Iterable[Finding]:
    """A critical finding per GPU process that no known job or allowlist accounts for.

    With no job source and no allowlist the console cannot tell, and says nothing.
    """
    jobs = store.of_kind("job")
    if not jobs and not (SECURITY.allowed_users or SECURITY.allowed_commands):
        return []
    job_refs = {job.ref for job in jobs}
    owners: dict[str, set[str]] = {}  # GPU ref → users of the jobs the scheduler put there
    for job in jobs:
        gpus = job.attrs.get("gpus")
        for gpu in gpus if isinstance(gpus, list) else ():
            owners.setdefault(str(gpu), set()).add(str(job.attrs.get("user") or ""))
    now = store.time or 0.0
    seen: set[str] = set()
    findings = []
    for gpu in store.of_kind("gpu"):
        processes = gpu.attrs.get("processes")
        if not isinstance(processes, list):
            continue
        for process in processes[:MAX_PROCESSES]:
            if not isinstance(process, dict):
                continue
            finding = _audit(store, gpu, process, job_refs, owners.get(gpu.ref, set()), now, seen)
            if finding is not None:
                findings.append(finding)
    _forget(store, seen, "process:")
    return findings


def _audit(
    store: Store,
    gpu: Entity,
    process: dict[str, Any],
    job_refs: set[str],
    owners: set[str],
    now: float,
    seen: set[str],
) -> Finding | None:
    user, command, claimed = process.get("user"), process.get("command"), process.get("slurm_job")
    if claimed and f"job/{claimed}" in job_refs:
        return None
    if user and user in owners:
        return None  # the scheduler gave this GPU to a job of this user
    if SECURITY.allows_process(user, command):
        return None
    since = _first_seen(store, f"process:{gpu.ref}:{process.get('pid')}", now, seen)
    claim = f"claims job {claimed}, which the scheduler does not know" if claimed else "no job"
    evidence = [
        f"command: {plain(command or '?', 160)}",
        f"user {plain(user or '?')}, pid {plain(process.get('pid', '?'))}: {claim}",
    ]
    if isinstance(process.get("gpu_mem_mib"), int | float):
        evidence.append(f"holds {process['gpu_mem_mib']:,.0f} MiB of GPU memory")
    if owners:
        evidence.append(f"this GPU belongs to jobs of {', '.join(sorted(owners))}")
    return Finding(
        gpu.ref, "security-unknown-process", "critical",
        f"unknown process on {_node_gpu(gpu.ref)}: {plain(process_text(process), 80)}",
        since=since, evidence=evidence, related=[gpu.parent] if gpu.parent else [],
    )  # fmt: skip


def listener_text(item: dict[str, Any]) -> str:
    """``0.0.0.0:8888 (jupyter-lab)``."""
    address = str(item.get("addr", "?"))
    shown = f"[{address}]" if ":" in address else address
    process = item.get("process")
    return f"{shown}:{item.get('port', '?')}" + (f" ({process})" if process else "")


def unexpected(node: Entity) -> list[dict[str, Any]]:
    """The node's listeners that the policy does not expect."""
    listening = node.attrs.get("listening")
    if not isinstance(listening, list):
        return []
    return [
        item
        for item in listening
        if isinstance(item, dict)
        and isinstance(item.get("port"), int)
        and not SECURITY.expects_listener(str(item.get("addr", "")), item["port"])
    ]


def unexpected_listeners(store: Store) -> Iterable[Finding]:
    """A warning per node that listens where the policy expects nothing."""
    findings = []
    seen: set[str] = set()
    for node in store.of_kind("node"):
        items = unexpected(node)
        if not items:
            continue
        since = _first_seen(store, f"listen:{node.ref}", store.time or 0.0, seen)
        shown = ", ".join(plain(listener_text(i), 60) for i in items[:3])
        more = f" and {len(items) - 3} more" if len(items) > 3 else ""
        findings.append(Finding(
            node.ref, "security-exposed", "warning",
            f"{plain(node.name)} listens where nothing is expected: {shown}{more}",
            since=since,
            evidence=[f"unexpected listener {plain(listener_text(i), 80)}" for i in items[:20]],
        ))  # fmt: skip
    _forget(store, seen, "listen:")
    return findings


def agent_exposure(agent: object) -> str | None:
    """Why an agent's posture is a risk, or ``None``."""
    if not isinstance(agent, dict) or agent.get("loopback", True):
        return None
    missing = [word for word, key in (("TLS", "tls"), ("a token", "token")) if not agent.get(key)]
    return f"serves {agent.get('listen', '?')} without {' or '.join(missing)}" if missing else None


def agent_posture(store: Store) -> Iterable[Finding]:
    """A warning per agent reachable beyond its node without TLS or a token."""
    findings = []
    for node in store.of_kind("node"):
        risk = agent_exposure(node.attrs.get("agent"))
        if risk is not None:
            findings.append(Finding(node.ref, "security-agent-exposed", "warning",
                                    f"agent on {plain(node.name)} {plain(risk)}",
                                    evidence=[plain(risk)]))  # fmt: skip
    return findings


def events(store: Store, category: str | None = None) -> list[Entity]:
    """Security events, newest first (all, or of one category)."""
    found = [
        e
        for e in store.of_kind("event")
        if isinstance(e.attrs.get("category"), str)
        and (category is None or e.attrs["category"] == category)
    ]
    return sorted(found, key=lambda e: (-_time(e), e.ref))


def _time(event: Entity) -> float:
    value = event.attrs.get("time")
    return float(value) if isinstance(value, int | float) else 0.0


def _severity(value: object) -> str:
    return value if value in ("info", "warning", "critical") else "warning"


def event_findings(store: Store) -> Iterable[Finding]:
    """Changed model files and refused requests one by one; guard detections grouped
    by node, kind and model, so a flood is one finding that counts."""
    findings = []
    for event in events(store, "integrity"):
        attrs = event.attrs
        evidence = [f"file {plain(attrs.get('file'), 160)}",
                    f"old sha256 {plain(attrs.get('old_sha256') or '—', 80)}",
                    f"new sha256 {plain(attrs.get('new_sha256') or '—', 80)}"]  # fmt: skip
        if attrs.get("reason"):
            evidence.append(f"reason {plain(attrs.get('reason'), 160)}")
        name = str(attrs.get("file") or "?").rsplit("/", 1)[-1]
        title = (f"{plain(attrs.get('change'), 20)} model file on {_short(event.parent or '?')}: "
                 f"{plain(name, 80)} ({plain(attrs.get('model'), 60)})")  # fmt: skip
        findings.append(Finding(event.ref, "security-model-changed", "critical", title,
                                since=_time(event), evidence=evidence,
                                related=[event.parent] if event.parent else []))  # fmt: skip
    for event in events(store, "auth"):
        count = event.attrs.get("count")
        count = count if isinstance(count, int) else 1
        severity = "warning" if count >= AUTH_WARNING else "info"
        remote = plain(event.attrs.get("remote"), 64)
        title = f"agent on {_short(event.parent or '?')} refused {count} request(s) from {remote}"
        findings.append(Finding(event.ref, "security-auth-failures", severity, title,
                                since=_time(event),
                                evidence=["wrong or missing token",
                                          f"last path {plain(event.attrs.get('path'), 80)}"],
                                related=[event.parent] if event.parent else []))  # fmt: skip
    now = store.time or 0.0
    groups: dict[tuple[str, str, str], list[Entity]] = {}
    for event in events(store, "guard"):
        if now - _time(event) <= GUARD_WINDOW:
            key = (event.parent or "", str(event.attrs.get("kind")), str(event.attrs.get("model")))
            groups.setdefault(key, []).append(event)
    for (node, kind, model), grouped in groups.items():
        newest = grouped[0]
        order = ("info", "warning", "critical")
        severity = max((_severity(e.attrs.get("severity")) for e in grouped), key=order.index)
        count = f"{len(grouped)} {plain(kind, 40)} detections" if len(grouped) > 1 else plain(kind)
        excerpt = plain(newest.attrs.get("excerpt") or "", 120)
        findings.append(Finding(
            newest.ref, "security-guard", severity,
            f"{count} for {plain(model, 60)} on {_short(node)}",
            since=_time(grouped[-1]),
            evidence=[f"latest: {excerpt}" if excerpt else "latest: no excerpt",
                      f"from {plain(newest.attrs.get('source') or 'unnamed gateway', 80)}"],
            related=[node] if node else [],
        ))  # fmt: skip
    return findings


SECURITY_ANALYZERS = (unknown_processes, unexpected_listeners, agent_posture, event_findings)
"""Run after the core analysis, in this order."""

__all__ = ["SECURITY_ANALYZERS", "events", "natural_sorted", "unexpected"]
