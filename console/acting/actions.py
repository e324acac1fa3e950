"""Acting from the console: drain, resume, requeue, hold, cancel, kill — guarded and audited.

An :class:`Action` says exactly what will run and on what; the UI shows that and
asks before :meth:`Actions.perform` runs it. Every attempt — refused, declined,
done or failed — is one JSON line in the audit log (created 0600), which the
``actions`` source reads back as events for the security pane's timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import shlex
import stat
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.core.model import Entity, make_ref
from console.core.run_command import CommandFailed, run_command
from console.core.store import Store

ACTION_TIMEOUT = 30.0
"""Seconds an action's command may run before it is stopped (and reported failed)."""
AUDIT_TAIL_BYTES = 256 * 1024
"""Bytes of the audit log's end read back for the timeline."""
AUDIT_EVENTS = 200
"""Audit entries shown on the timeline at most (the newest)."""
MAX_FIELD = 400
"""Characters kept of any one field of an audit entry."""


def default_audit_log() -> Path:
    """``$XDG_STATE_HOME/watchfloor/actions.log``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "watchfloor" / "actions.log"


@dataclass(frozen=True)
class Action:
    """One thing the console can do to the cluster, described before it is done.

    Either ``argv`` (a command run without a shell, shown verbatim) or ``call``
    (a function run in a thread, for in-process work such as signalling a local
    process) does it; ``shown`` is what the user is asked to confirm.
    """

    verb: str
    """``drain``, ``resume``, ``requeue``, ``hold``, ``release``, ``cancel``, ``kill``."""
    target: str
    """The ref acted on (``node/gpu01``, ``job/4711``, ``gpu/gpu01/3``)."""
    argv: tuple[str, ...] = ()
    reason: str = ""
    call: Callable[[], str] | None = None
    """In-process work returning a line saying what happened (instead of ``argv``)."""
    description: str = ""
    """What ``call`` does, in words (``argv`` describes itself)."""
    with_reason: Callable[[str], Action] | None = field(default=None, compare=False)
    """The same action with another reason (the confirmation lets the user edit it)."""

    @property
    def shown(self) -> str:
        """Exactly what will run: the command line, or the description."""
        return shlex.join(self.argv) if self.argv else self.description


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: ``done``, ``failed``, ``refused`` or ``declined``."""

    status: str
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "done"


@dataclass
class Actions:
    """The guard, the runner and the audit log of every console action."""

    enabled: bool = True
    """``actions: {enabled: false}`` turns every action into a refusal."""
    read_only: bool = False
    """``--read-only`` (and wall mode) refuse every action."""
    audit_log: Path = field(default_factory=default_audit_log)
    env: Mapping[str, str] | None = None
    """Environment of the commands run (``None``: the console's own)."""
    clock: Callable[[], float] = time.time
    timeout: float = ACTION_TIMEOUT
    user: str = field(default_factory=lambda: _local_user())
    """Who acts: the local user running the console."""
    refused_because: str = ""
    """Set where actions are never offered (a browser session): the refusal's words."""

    def refusal(self) -> str | None:
        """Why actions are refused here, or ``None`` when they are allowed."""
        if self.refused_because:
            return self.refused_because
        if self.read_only:
            return "read-only mode: refused (started with --read-only)"
        if not self.enabled:
            return "actions are turned off (actions: {enabled: false} in the config)"
        return None

    async def perform(self, action: Action) -> Outcome:
        """Run ``action`` unless refused; audit the attempt whatever happens."""
        refused = self.refusal()
        if refused is None:
            try:  # nothing is done that cannot be audited
                await asyncio.to_thread(append_line, self.audit_log, "")
            except OSError as exc:
                reason = exc.strerror or str(exc)
                return Outcome("refused", f"cannot write the audit log {self.audit_log}: {reason}")
        outcome = Outcome("refused", refused) if refused is not None else await self._run(action)
        try:
            await self.audit(action, outcome)
        except OSError as exc:
            note = f" (not audited: {self.audit_log}: {exc.strerror or exc})"
            return Outcome(outcome.status, outcome.message + note)
        return outcome

    async def declined(self, action: Action) -> Outcome:
        """The user said no at the confirmation: audited too (where the log can be written)."""
        outcome = Outcome("declined", "not confirmed")
        with contextlib.suppress(OSError):
            await self.audit(action, outcome)
        return outcome

    async def _run(self, action: Action) -> Outcome:
        if action.call is not None:
            try:
                return Outcome("done", await asyncio.to_thread(action.call))
            except Exception as exc:
                return Outcome("failed", str(exc)[:MAX_FIELD] or type(exc).__name__)
        try:
            result = await run_command(action.argv, self.timeout, self.env, 1024 * 1024)
        except CommandFailed as exc:
            return Outcome("failed", str(exc))
        if result.returncode != 0:
            return Outcome("failed", result.error_line)
        said = result.stdout.decode("utf-8", "replace").strip().splitlines()
        return Outcome("done", said[0][:MAX_FIELD] if said else "")

    async def audit(self, action: Action, outcome: Outcome) -> None:
        """Append one JSON line for this attempt (file created 0600)."""
        entry = {
            "time": round(self.clock(), 3),
            "user": self.user,
            "action": action.verb,
            "target": action.target,
            "command": action.shown[:MAX_FIELD],
            "reason": action.reason[:MAX_FIELD],
            "outcome": outcome.status,
            "message": outcome.message[:MAX_FIELD],
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        await asyncio.to_thread(append_line, self.audit_log, line)


def append_line(path: Path, line: str) -> None:
    """Append to a regular file, creating it (and its folder) private to this user."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
    descriptor = os.open(path, flags, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path}: not a regular file")
        if line:
            os.write(descriptor, line.encode("utf-8"))
    finally:
        os.close(descriptor)


def read_audit(path: Path, limit: int = AUDIT_EVENTS) -> list[dict[str, Any]]:
    """The newest ``limit`` entries of an audit log (its last bytes only; bad lines skipped)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return []
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        start = max(0, info.st_size - AUDIT_TAIL_BYTES)
        data = os.pread(descriptor, AUDIT_TAIL_BYTES, start)
    finally:
        os.close(descriptor)
    lines = data.decode("utf-8", "replace").splitlines()
    if start:
        lines = lines[1:]  # the first line was cut by the tail
    entries = []
    for line in lines[-limit:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


OUTCOME_SEVERITY = {"done": "warning", "failed": "critical", "refused": "info", "declined": "info"}
"""How each outcome shows on the security timeline: a change made to the cluster is
worth a look; a failed one more so."""


def audit_event(entry: Mapping[str, Any]) -> Entity | None:
    """The timeline event of one audit entry (``None`` when malformed)."""
    when = entry.get("time")
    if not isinstance(when, int | float):
        return None
    target = str(entry.get("target") or "")
    node = target.split("/")[1] if target.startswith(("node/", "gpu/")) else None
    words = {key: str(entry.get(key) or "")[:MAX_FIELD] for key in (
        "user", "action", "target", "command", "reason", "outcome", "message")}  # fmt: skip
    title = f"{words['user']}: {words['action']} {words['target']} — {words['outcome']}"
    if words["message"] and words["outcome"] != "done":
        title += f": {words['message']}"
    return Entity(
        make_ref("event", f"action-{int(when * 1000)}-{zlib.crc32(repr(words).encode()):08x}"),
        f"{words['action']} {words['target']}",
        make_ref("node", node) if node else None,
        attrs={
            "category": "action",
            "time": float(when),
            "severity": OUTCOME_SEVERITY.get(words["outcome"], "warning"),
            "title": title,
            **words,
        },
    )


def _local_user() -> str:
    """Who runs the console; under sudo, also who ran sudo (the person acting)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    via = os.environ.get("SUDO_USER")
    if via and via != user:
        return f"{user} (sudo by {via})"
    return user


# -- the Slurm actions ---------------------------------------------------------

MAX_REASON = 200
"""Characters of a drain reason kept (Slurm stores it with the node)."""


def clean_reason(text: str) -> str:
    """A reason as one printable line (it may quote a remote string)."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:MAX_REASON]


def _name(ref: str, kind: str) -> str:
    prefix = f"{kind}/"
    if not ref.startswith(prefix) or len(ref) == len(prefix):
        raise ValueError(f"not a {kind} ref: {ref!r}")
    return ref[len(prefix) :].split("/")[0]


def drain(node: str, reason: str, user: str | None = None) -> Action:
    """``scontrol update NodeName=N State=DRAIN Reason=…``: no new job lands on the node."""
    why = clean_reason(reason) or f"drained from watchfloor by {user or _local_user()}"
    argv = ("scontrol", "update", f"NodeName={_name(node, 'node')}", "State=DRAIN",
            f"Reason={why}")  # fmt: skip
    return Action("drain", node, argv, why, with_reason=lambda text: drain(node, text, user))


def resume(node: str) -> Action:
    """``scontrol update NodeName=N State=RESUME``: the node takes jobs again."""
    return Action("resume", node, ("scontrol", "update", f"NodeName={_name(node, 'node')}",
                                   "State=RESUME"))  # fmt: skip


def requeue(job: str) -> Action:
    """``scontrol requeue J``: the job goes back to pending and starts again."""
    return Action("requeue", job, ("scontrol", "requeue", _name(job, "job")))


def hold(job: str) -> Action:
    """``scontrol hold J``: a pending job is kept from starting."""
    return Action("hold", job, ("scontrol", "hold", _name(job, "job")))


def release(job: str) -> Action:
    """``scontrol release J``: a held job may start again."""
    return Action("release", job, ("scontrol", "release", _name(job, "job")))


def cancel(job: str) -> Action:
    """``scancel J``: the job ends."""
    return Action("cancel", job, ("scancel", _name(job, "job")))


SLURM_ACTIONS: dict[str, Callable[..., Action]] = {
    "drain": drain, "resume": resume, "requeue": requeue, "hold": hold, "release": release,
    "cancel": cancel,
}  # fmt: skip
"""Palette verbs and the action each builds (``drain`` takes a reason too)."""


def slurm_action(verb: str, target: str, reason: str = "") -> Action:
    """The Slurm action ``verb`` on ``target``: ``drain``/``resume`` a ``node/…`` ref;
    ``requeue``/``hold``/``release``/``cancel`` a ``job/…`` ref. ``reason`` is the
    drain reason (one line; the default names the user).

    Raises ``ValueError`` for an unknown verb or a ref of the wrong kind."""
    if verb not in SLURM_ACTIONS:
        raise ValueError(f"unknown action {verb!r} (known: {', '.join(SLURM_ACTIONS)})")
    if verb == "drain":
        return drain(target, reason)
    return SLURM_ACTIONS[verb](target)


def node_of(ref: str) -> str | None:
    """The node a ref lives on: ``node/gpu01`` for ``gpu/gpu01/3`` (``None`` for a job)."""
    kind, _, rest = ref.partition("/")
    if kind in ("node", "gpu") and rest:
        return make_ref("node", rest.split("/")[0])
    return None


def drain_reason(store: Store, ref: str) -> str:
    """The default reason to drain the node of ``ref``: the most severe finding about
    ``ref`` itself, else about the node or any of its GPUs ('' when none)."""
    node = node_of(ref)
    about = [f for f in store.findings if f.ref == ref]
    if not about and node is not None:
        about = [f for f in store.findings if f.ref == node or node_of(f.ref) == node]
    if not about:
        return ""
    rank = {"critical": 0, "warning": 1, "info": 2}
    worst = min(about, key=lambda f: rank.get(f.severity, 3))
    return clean_reason(f"watchfloor: {worst.title}")
