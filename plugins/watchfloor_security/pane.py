"""The security pane: each node's posture, then every security event, newest first.

``Enter`` on a node opens it; on an event, its detail (file, hashes, model,
excerpt), from where the node, the GPU holding a process, or the jobs on that
node are one more ``Enter`` away. ``/`` filters both tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from console.api import (
    Entity,
    EntityTable,
    Finding,
    PaneBase,
    PaneContext,
    cell,
    facts_text,
    findings_text,
    role_style,
    severity_text,
    title_bar,
)
from watchfloor_security.audit import GUARD_WINDOW, agent_exposure, events, unexpected

TIMELINE_TITLE = "Security events, newest first"
NO_EVENTS = "Security events: none (model file changes, refused requests, guard alerts)"
CONDITIONS = ("security-unknown-process", "security-exposed", "security-agent-exposed")
"""Findings that are states rather than events: listed in the timeline beside the events."""
DETAIL_WIDTH = 72
"""Characters of an event's detail in the timeline (the event's own view has it all)."""
CATEGORY = {"integrity": "model file", "guard": "guard", "auth": "refused", "action": "action"}


def _clock(seconds: float | None, now: float | None = None) -> str:
    """``14:03:07``; with the date when it is not from the last day."""
    if not isinstance(seconds, int | float):
        return "—"
    recent = now is not None and 0 <= now - seconds < 86_400
    return time.strftime("%H:%M:%S" if recent else "%m-%d %H:%M:%S", time.localtime(seconds))


class SecurityView(PaneBase):
    """Posture per node, then the event timeline."""

    DEFAULT_CSS = """
    SecurityView > #posture { height: auto; max-height: 45%; }
    SecurityView > #timeline { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield title_bar("Security posture by node")
        yield EntityTable(
            self.context,
            ("Node", "GPU procs", "Listen", "Model files", "Agent", "Refused", "Guard 15m"),
            id="posture",
        )
        title = title_bar(TIMELINE_TITLE)
        title.id = "timeline-title"
        yield title
        yield EntityTable(
            self.context, ("When", "Severity", "What", "Node", "Detail"), id="timeline",
            on_open=self._open_event,
        )  # fmt: skip

    def _open_event(self, key: str) -> None:
        # Condition rows are keyed "kind|ref" (one node can have several conditions).
        self.context.open(key.rpartition("|")[2])

    def refresh_view(self) -> None:
        keys, render = self._posture()
        self.query_one("#posture", EntityTable).sync_keys(keys, render)
        keys, render = self._timeline()
        self.query_one("#timeline", EntityTable).sync_keys(keys, render)
        # An empty table looks like one still loading: say there is nothing, and what
        # would show.
        self.show_text("timeline-title", Text(TIMELINE_TITLE if keys else NO_EVENTS))

    def _posture(self) -> tuple[list[str], Callable[[str], list[Text]]]:
        """The nodes' refs, and how to build one's row (only rows in view are built).

        Name order while they fit the screen; past that (thousands of nodes), the
        nodes with unknown GPU processes or recent guard events first."""
        store = self.context.store
        unknown: dict[str, int] = {}
        for finding in store.findings:
            if finding.kind == "security-unknown-process":
                node = "node/" + finding.ref.split("/")[1]
                unknown[node] = unknown.get(node, 0) + 1
        guard: dict[str, int] = {}
        now = store.time or 0.0
        for event in events(store, "guard"):
            stamp = event.attrs.get("time")
            if isinstance(stamp, int | float) and now - stamp <= GUARD_WINDOW and event.parent:
                guard[event.parent] = guard.get(event.parent, 0) + 1
        keys = [n.ref for n in store.of_kind("node") if n.attrs.get("role") != "storage"]
        if len(keys) > self.app.size.height:
            keys.sort(key=lambda ref: -(unknown.get(ref, 0) + guard.get(ref, 0)))
        return keys, partial(self._posture_row, unknown=unknown, guard=guard)

    def _posture_row(self, ref: str, unknown: dict[str, int], guard: dict[str, int]) -> list[Text]:
        store = self.context.store
        node = store.get(ref)
        if node is None:
            return [cell(ref.removeprefix("node/"))]
        alarm, warn = role_style(self, "error", True), role_style(self, "warning", True)
        processes = sum(
            len(p) for g in store.children(node.ref, "gpu")
            if isinstance(p := g.attrs.get("processes"), list)
        )  # fmt: skip
        bad = unknown.get(node.ref, 0)
        listening = node.attrs.get("listening")
        extra = len(unexpected(node))
        agent = node.attrs.get("agent")
        refused = agent.get("refused", 0) if isinstance(agent, dict) else 0
        return [
            cell(node.name, limit=28),
            cell(f"{processes}, {bad} UNKNOWN" if bad else str(processes),
                 style=alarm if bad else ""),
            cell("—" if not isinstance(listening, list)
                 else f"{len(listening)}, {extra} UNEXPECTED" if extra
                 else str(len(listening)), style=warn if extra else ""),
            self._models(node.attrs.get("integrity"), alarm),
            self._agent(agent, warn),
            cell(str(refused) if isinstance(refused, int) else "?",
                 style=warn if refused else ""),
            cell(str(guard.get(node.ref, 0)), style=warn if guard.get(node.ref) else ""),
        ]  # fmt: skip

    def _models(self, integrity: object, alarm: Style) -> Text:
        if not isinstance(integrity, dict):
            return cell("not watched", style="dim")
        files, verified = integrity.get("files", 0), integrity.get("verified", 0)
        changes = integrity.get("changes", 0)
        text = f"{verified}/{files} ok"
        if changes:
            return cell(f"{text}, {changes} CHANGED", style=alarm)
        return cell(text)

    def _agent(self, agent: object, warn: Style) -> Text:
        if not isinstance(agent, dict):
            return cell("no agent", style="dim")
        risk = agent_exposure(agent)
        if risk is not None:
            return cell(f"✖ {risk}", style=warn)
        words = ["loopback" if agent.get("loopback") else "TLS"]
        words += ["token"] if agent.get("token") else []
        words += ["client certs"] if agent.get("client_certs") else []
        return cell(" + ".join(words))

    def _timeline(self) -> tuple[list[str], Callable[[str], list[Text]]]:
        """The events' and conditions' keys, newest first, and how to build one's row
        (only the rows in view are built: a fleet's guard log is long)."""
        store = self.context.store
        now = store.time or 0.0
        rows: list[tuple[float, str, Callable[[], list[Text]]]] = []
        for finding in store.findings:
            if finding.kind in CONDITIONS:
                since = finding.since if finding.since is not None else now
                key = f"{finding.kind}|{finding.ref}"
                rows.append((since, key, partial(self._condition, finding, since, now)))
        for event in events(store):
            stamp = event.attrs.get("time")
            when = float(stamp) if isinstance(stamp, int | float) else 0.0
            rows.append((when, event.ref, partial(self._event, event, when, now)))
        rows.sort(key=lambda row: (-row[0], row[1]))
        builders = {key: build for _, key, build in rows}
        return list(builders), lambda key: builders[key]()

    def _event(self, event: Entity, when: float, now: float) -> list[Text]:
        attrs = event.attrs
        return [
            cell(_clock(when, now)),
            severity_text(self, str(attrs.get("severity"))),
            cell(CATEGORY.get(str(attrs.get("category")), str(attrs.get("category")))),
            cell((event.parent or "?").removeprefix("node/"), limit=24),
            cell(_detail(attrs), limit=DETAIL_WIDTH),
        ]

    def _condition(self, finding: Finding, since: float, now: float) -> list[Text]:
        what = {"security-unknown-process": "GPU process", "security-exposed": "listener",
                "security-agent-exposed": "agent"}[finding.kind]  # fmt: skip
        return [
            cell(_clock(since, now)),
            severity_text(self, finding.severity),
            cell(what),
            cell(finding.ref.split("/")[1] if "/" in finding.ref else "?", limit=24),
            cell(_without_node(finding), limit=DETAIL_WIDTH),
        ]


def _without_node(finding: Finding) -> str:
    """A condition's title less its node's name, which has its own column."""
    node = finding.ref.split("/")[1] if "/" in finding.ref else ""
    return (
        finding.title.replace(f"on {node} ", "on ")
        .replace(f"on {node}", "")
        .removeprefix(f"{node} ")
    )


def _detail(attrs: dict[str, object]) -> str:
    category = attrs.get("category")
    if category == "integrity":
        return f"{attrs.get('change')} {attrs.get('file')} (model {attrs.get('model')})"
    if category == "guard":
        excerpt = attrs.get("excerpt") or ""
        return f"{attrs.get('kind')} on {attrs.get('model')}: {excerpt}"
    if category == "auth":
        return f"{attrs.get('count')}× wrong or missing token from {attrs.get('remote')}"
    if category == "action":  # from the console's audit log
        detail = f"{attrs.get('user')}: {attrs.get('action')} {attrs.get('target')}"
        detail += f" — {attrs.get('outcome')}"
        words = attrs.get("reason") if attrs.get("outcome") == "done" else attrs.get("message")
        return detail + (f" ({words})" if words else "")
    return str(attrs.get("title") or "")


class EventDetail(PaneBase):
    """One security event: what happened, its evidence, and where to go next."""

    DEFAULT_CSS = """
    EventDetail > #facts { height: auto; }
    EventDetail > #related { height: auto; max-height: 12; }
    EventDetail > #findings { height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield title_bar(self.ref or "")
        yield Static(id="facts", classes="pane-body")
        yield title_bar("Go to (Enter)")
        yield EntityTable(self.context, ("Ref", "What"), id="related")
        yield Static(id="findings", classes="pane-body")

    def refresh_view(self) -> None:
        event = self.shown_entity("facts")
        if event is None:
            return
        attrs = dict(event.attrs)
        stamp = attrs.pop("time", None)
        when = _clock(stamp if isinstance(stamp, int | float) else None)
        facts = [("what", event.name), ("when", when), ("node", event.parent),
                 *((k, v) for k, v in attrs.items() if k != "seq")]  # fmt: skip
        self.show_text("facts", facts_text(facts))
        self.query_one("#related", EntityTable).sync(self._related(event.parent))
        store = self.context.store
        self.show_text("findings", findings_text(self, store, event.ref))

    def _related(self, node: str | None) -> Iterable[tuple[str, list[Text]]]:
        store = self.context.store
        if node is None or store.get(node) is None:
            return
        yield node, [cell(node), cell("the node")]
        for job in store.of_kind("job"):
            nodes = job.attrs.get("nodes")
            if isinstance(nodes, list) and node in nodes:
                yield job.ref, [cell(job.ref), cell(f"job {job.name} runs here", limit=80)]


def create_security_pane(context: PaneContext, ref: str | None) -> PaneBase:
    """The pane factory: the posture and timeline, or one event."""
    return SecurityView(context, ref) if ref is None else EventDetail(context, ref)
