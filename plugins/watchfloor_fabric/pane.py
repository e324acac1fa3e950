"""The fabric pane: links busiest first, and one link with both ends' counters."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from console.api import (
    THRESHOLDS,
    DetailPane,
    Entity,
    EntityTable,
    PaneBase,
    PaneContext,
    SteadyValues,
    Store,
    cell,
    explain,
    findings_text,
    fmt,
    link_jobs,
    metrics_text,
    role_style,
    title_bar,
)

LINK_METRICS = ("link.util", "link.util_ab", "link.util_ba", "link.score")
HOT_SCORE = 0.5
"""Congestion score from which a link is listed under its switches."""
MAX_SWITCH_LINES = 8
PORT_METRICS = (
    "port.tx_bytes", "port.rx_bytes", "port.xmit_wait", "port.ecn_marked",
    "port.cnp_sent", "port.discards", "port.symbol_errors",
)  # fmt: skip
"""A link end's counters; a port's own detail shows every counter it has."""
STEADY_STEPS: dict[str, float] = {
    "link.score": 0.05, "link.util": 5.0, "link.util_ab": 5.0, "link.util_ba": 5.0,
    "port.xmit_wait": 1e4,
}  # fmt: skip
"""How far a link's reading must move before the list shows it again (score, %,
ticks/s): rates jitter every second, and rows redrawn and reordered for that sent
10 KB/s over SSH. The link's own view shows every reading."""


ERROR_TOTALS = (
    ("port.link_downed", "link downed"), ("port.link_error_recovery", "link recoveries"),
    ("port.symbol_errors", "symbol errors"), ("port.rx_errors", "receive errors"),
    ("port.discards", "discards"), ("port.buffer_overrun", "buffer overruns"),
    ("port.link_integrity_errors", "integrity errors"),
    ("port.out_of_sequence", "out of sequence"), ("port.retransmits", "retransmits"),
    ("port.local_ack_timeout", "ACK timeouts"),
)  # fmt: skip
"""Error counters whose totals an on-call engineer asks for ("link-downs since boot?")."""


def error_totals(store: Store, port: str) -> Text:
    """``totals since the counters were cleared: link downed 3 · symbol errors 4,512``."""
    parts = []
    for metric, words in ERROR_TOTALS:
        reading = store.reading(port, metric)
        if reading is not None and reading.value is not None:
            parts.append(f"{words} {reading.value:,.0f}")
    entity = store.get(port)
    saturated = (entity.attrs.get("saturated") if entity is not None else None) or []
    if not parts and not saturated:
        return Text()
    text = Text("totals since the last clear: ", style="dim")
    text.append(" · ".join(parts) or "—")
    if saturated:
        names = ", ".join(str(m).removeprefix("port.") for m in saturated)
        text.append(f"  (stuck at maximum: {names})", style="bold")
    text.append("\n")
    return text


class LinkList(PaneBase):
    """Every link, most congested first (utilisation past 70% and back-pressure).

    Bytes matter over SSH: values are shown steadily (:data:`STEADY_STEPS`) and rows
    ranked by the score shown.
    """

    DEFAULT_CSS = """
    LinkList > #switches { height: auto; max-height: 10; }
    """

    def __init__(self, context: PaneContext, ref: str | None = None) -> None:
        super().__init__(context, ref)
        self._steady = SteadyValues(STEADY_STEPS)
        self._scores: dict[str, float] = {}

    def compose(self) -> ComposeResult:
        yield title_bar("Switches with congested links")
        yield Static(id="switches", classes="pane-body")
        yield title_bar("Fabric links, most congested first")
        yield EntityTable(
            self.context, ("Link", "Tier", "Score", "Util", "a→b", "b→a", "Xmit wait/s")
        )

    def refresh_view(self) -> None:
        store, steady = self.context.store, self._steady
        # Ranked by the score shown, ties by name: jitter under a step does not reorder.
        scored = [(steady.value(store, link.ref, "link.score") or 0.0, link.ref)
                  for link in store.of_kind("link")]  # fmt: skip
        scored.sort(key=lambda item: (-item[0], item[1]))
        self._scores = {ref: score for score, ref in scored}
        if len(steady) > 2 * len(STEADY_STEPS) * len(scored) + 64:  # links that went away
            steady.forget(self._scores)
        switches = self._switches(scored)
        self.show_text("switches", switches)
        # Rows are built only for the links in view: a fabric has tens of thousands.
        self.query_one(EntityTable).sync_keys([ref for _, ref in scored], self._row)

    def _switches(self, scored: list[tuple[float, str]]) -> Text:
        """Leaf/spine view: each switch with congested links, by tier, worst first."""
        store = self.context.store
        hot: dict[str, list[float]] = {}
        for score, ref in scored:
            if score < HOT_SCORE:
                break  # sorted: the rest are cooler
            link = store.get(ref)
            for end in ("a", "b") if link else ():
                owner = str(link.attrs.get(end, "")).split("/")[1:2]
                if owner and store.get(f"switch/{owner[0]}") is not None:
                    hot.setdefault(owner[0], []).append(score)
        text = Text()
        if not hot:
            return Text("none: every link below the congestion threshold", style="dim")
        for name in sorted(hot, key=lambda n: (-max(hot[n]), n))[:MAX_SWITCH_LINES]:
            switch = store.get(f"switch/{name}")
            tier = switch.attrs.get("tier", "") if switch else ""
            text.append(f"{name:<12} {tier:<6} ", style="bold")
            text.append(f"{len(hot[name])} congested link(s), worst score {max(hot[name]):.2f}\n",
                        style=role_style(self, "link-congested"))  # fmt: skip
        return text

    def _row(self, ref: str) -> list[Text]:
        store, steady = self.context.store, self._steady
        link = store.get(ref)
        if link is None:
            return [cell(ref)]
        util = steady.value(store, ref, "link.util")
        ends = (str(link.attrs.get(end)) for end in ("a", "b"))
        waits = [w for port in ends if (w := store.value(port, "port.xmit_wait")) is not None]
        wait = steady.hold(ref, "port.xmit_wait", max(waits) if waits else None)
        score = self._scores.get(ref, 0.0)
        hot = role_style(self, "link-congested", bold=True) if score >= HOT_SCORE else ""
        return [
            cell(link.name, limit=60),
            cell(link.attrs.get("tier", "")),
            cell(f"{score:.2f}", style=hot),
            cell(fmt(util, "%"), style=hot),
            cell(fmt(steady.value(store, ref, "link.util_ab"), "%")),
            cell(fmt(steady.value(store, ref, "link.util_ba"), "%")),
            cell(fmt(wait)),
        ]


class LinkDetail(DetailPane):
    """One link: utilisation history each way, both ports' counters, findings."""

    SECTIONS = ("util", "jobs", "ends", "findings")
    DEFAULT_CSS = """
    LinkDetail #util, LinkDetail #jobs, LinkDetail #ends {
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def sections(self, entity: Entity) -> dict[str, Text]:
        store = self.context.store
        jobs = Text(no_wrap=True, overflow="ellipsis")  # one line per job, at any width
        jobs.append("Jobs whose traffic crosses it (busier direction):\n", style="bold")
        crossing = link_jobs(store, entity.ref)
        for job_ref, share, why in crossing:
            job = store.get(job_ref)
            jobs.append(f"  {job_ref}  {cell(job.name if job else '', limit=40).plain}  "
                        f"{share:.0%} of the traffic ({cell(why, limit=80).plain})\n")  # fmt: skip
        if not crossing:
            jobs.append("  none measurable\n", style="dim")
        util = Text(f"{cell(entity.name, limit=80).plain}   ")
        util.append(f"{entity.attrs.get('speed_gbps', '?')} Gb/s\n")
        fit = self.content_size.width or self.app.size.width - 2
        util.append_text(metrics_text(store, entity.ref, LINK_METRICS, width=40, fit=fit))
        ends = Text()
        for end in ("a", "b"):
            port = str(entity.attrs.get(end))
            ends.append(f"\n{end}: {cell(port, limit=80).plain}\n", style="bold")
            ends.append_text(metrics_text(store, port, PORT_METRICS, width=40, fit=fit))
            ends.append_text(error_totals(store, port))
        return {
            "util": util, "jobs": jobs, "ends": ends,
            "findings": findings_text(self, store, entity.ref),
        }  # fmt: skip


class PathView(PaneBase):
    """A job's fabric paths hop by hop (``path/<job id>``), the suspect link marked.

    The cursor starts on the most suspected link; ``Enter`` opens a link.
    """

    def __init__(self, context: PaneContext, ref: str | None = None) -> None:
        super().__init__(context, ref)
        self._placed = False

    def compose(self) -> ComposeResult:
        job = (self.ref or "").replace("path/", "job/", 1)
        yield title_bar(f"Fabric paths of {job}, hop by hop")
        yield EntityTable(self.context, ("Hop", "Between", "Util", "Xmit wait/s", "Suspect"))

    def refresh_view(self) -> None:
        store = self.context.store
        job = (self.ref or "").replace("path/", "job/", 1)
        explanation = explain(store, job)
        if explanation is None:
            return
        scores = {c.ref: c.score for c in explanation.causes if c.kind == "congested-link"}
        rows: dict[str, list[Text]] = {}
        for (src, dst), paths in explanation.paths.items():
            for path in paths:
                for link_ref, forward in path:
                    if link_ref in rows:
                        continue
                    link = store.get(link_ref)
                    a, b = (
                        str(link.attrs.get("a")) if link else "",
                        str(link.attrs.get("b")) if link else "",
                    )
                    sender, receiver = (a, b) if forward else (b, a)
                    util = store.value(link_ref, "link.util_ab" if forward else "link.util_ba")
                    suspect = scores.get(link_ref)
                    hot = suspect is not None and (util or 0) >= THRESHOLDS.link_hot_util
                    style = role_style(self, "link-congested", bold=True) if hot else ""
                    rows[link_ref] = [
                        cell(f"{sender.removeprefix('port/')} → {receiver.removeprefix('port/')}",
                             limit=60),
                        cell(f"{src} → {dst}"),
                        cell(fmt(util, "%"), style=style),
                        cell(fmt(store.value(sender, "port.xmit_wait"))),
                        cell(f"◀ HOT {suspect:.2f}" if hot and suspect else "", style=style),
                    ]  # fmt: skip
        table = self.query_one(EntityTable)
        table.sync(rows.items())
        if not self._placed and scores:
            self._placed = True
            top = max(scores, key=lambda ref: scores[ref])
            if top in rows:
                table.cursor_row = list(rows).index(top)


def create_fabric_pane(context: PaneContext, ref: str | None) -> PaneBase:
    """The pane factory: the link list, a job's paths, or one link."""
    if ref is None:
        return LinkList(context)
    if ref.startswith("path/"):
        return PathView(context, ref)
    return LinkDetail(context, ref)
