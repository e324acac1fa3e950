"""The overview: fleet health at a glance.

Four panels: a nodes × GPUs heat grid, active findings, jobs, source health.
Each is one keyed table, so a fleet of a thousand nodes is still one widget.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.widgets import Static

from console.acting.actions import drain_reason, node_of, slurm_action
from console.analysis.jobs import job_loss, job_state
from console.analysis.thresholds import THRESHOLDS
from console.api import Entity, Finding, SourceStatus
from console.core.text import plain
from console.ui.detail import SLURM_TROUBLE
from console.ui.kit import (
    EntityTable,
    PaneBase,
    PaneContext,
    cell,
    confirm_action,
    finding_title,
    fmt,
    heat_level,
    job_state_text,
    plural,
    role_style,
    severity_text,
)
from console.ui.node_groups import (
    GROUP_BLOCKS,
    GROUP_PREFIX,
    buckets,
    group_nodes,
    grouped_alike,
    worst_first,
)


def gpu_heat(widget: PaneBase, utils: Sequence[float | None]) -> Text:
    """One block per GPU, coloured by utilisation step (``·`` when not available)."""
    text = Text()
    for util in utils:
        level = heat_level(util)
        if level is None:
            text.append("·", style=role_style(widget, "stale"))
        else:
            text.append("█" if level else "▁", style=role_style(widget, f"heat-{level}"))
    return text


EMPTY_HINT = (
    "No nodes yet. Sources and their state are listed under Sources; add agents or "
    "a simulator to the config file (see README), or run `watchfloor demo`."
)
"""Shown instead of an empty grid, so a first run explains itself."""


def empty_hint(statuses: Sequence[SourceStatus]) -> str:
    """What the overview says while no node is known: how many sources have landed and
    which it still waits for (the first cycle of thousands of nodes takes a while, and
    keys work meanwhile), those that failed, else how to add one."""
    active = [s for s in statuses if s.status != "disabled"]
    waiting = [s for s in active if s.status == "pending"]
    failed = [s for s in active if s.status in ("failed", "stale")]
    if not waiting and not failed:
        return EMPTY_HINT
    lines = []
    if waiting:
        landed = sum(1 for s in active if s.last_ok is not None)
        names = ", ".join(plain(s.name, 32) for s in waiting[:5])
        more = f" and {len(waiting) - 5} more" if len(waiting) > 5 else ""
        lines.append(f"Collecting the first cycle: {landed} of {len(active)} sources landed, "
                     f"waiting for {names}{more}. A large fleet's first cycle takes a while; "
                     "keys work meanwhile (? keys, S sources, q quit).")  # fmt: skip
    lines += [f"{plain(s.name, 32)} {s.status}: {plain(s.reason, 200)}" for s in failed]
    return "\n".join(lines)


NARROW = 100
"""Below this many columns the overview gives findings the full width and folds the
Sources panel into the header's ``src`` count (``S`` or a click on it opens them)."""
SOURCE_COLUMNS = ("Source", "Type", "Status", "Reason")
FINDING_COLUMNS = ("Severity", "Finding", "Ref")


def source_rows(widget: PaneBase) -> Iterable[tuple[str, list[Text]]]:
    """One row per source: name, type, status in its colour, reason."""
    for status in widget.context.sources():
        role = {"ok": "ok", "stale": "stale", "failed": "failed"}.get(status.status, "")
        yield (
            f"source:{status.name}",
            [
                cell(status.name, limit=32),
                cell(status.type),
                cell(status.status, style=role_style(widget, role, bold=status.status == "failed")),
                cell(status.reason, limit=120),
            ],
        )


class SourcesPane(PaneBase):
    """Every source with its status and reason, the whole width (``S``)."""

    DEFAULT_CSS = """
    SourcesPane > EntityTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield EntityTable(self.context, SOURCE_COLUMNS, id="sources", openable=False)

    def refresh_view(self) -> None:
        self.query_one(EntityTable).sync(source_rows(self))


def no_gpu_words(attrs: dict[str, object]) -> str:
    """What the GPU column says of a node with no GPU entities (Slurm may still count some)."""
    gpus = attrs.get("slurm_gpus")
    if isinstance(gpus, int) and gpus:
        return f"{plural(gpus, 'GPU')} (Slurm)"
    return str(attrs.get("role", "no GPUs"))


def node_name_text(widget: PaneBase, name: str, slurm_state: object) -> Text:
    """``gpu01 drained``: the name, then Slurm's state when Slurm knows the node."""
    text = cell(name, limit=20)
    if isinstance(slurm_state, str):
        text = text.copy()
        trouble = slurm_state in SLURM_TROUBLE
        role = "warning" if trouble else "stale"
        text.append(" " + plain(slurm_state, 10), style=role_style(widget, role, bold=trouble))
    return text


class OverviewPane(PaneBase):
    """The home screen's body.

    ``d`` drains (in Slurm) the node of the selected finding or node, the finding
    as the reason; each action shows the exact command and asks first.
    """

    _focused = False
    BINDINGS: ClassVar[list[BindingType]] = [Binding("d", "drain", "Drain node", show=False)]

    def __init__(self, context: PaneContext, ref: str | None = None) -> None:
        super().__init__(context, ref)
        self._grouped_by = ""
        """What the nodes panel groups by now (``rack``, ``leaf``), or ``""``."""
        self._groups: dict[str, list[str]] = {}
        """Each group's node refs, from the last refresh."""
        self._unfolded: set[str] = set()
        """Group rows whose nodes are listed under them."""
        self._grouping: tuple[list[Entity], int, tuple[str, dict[str, list[str]]]] | None = None
        """The nodes and rows the last grouping was made for, and that grouping: nodes
        reported again in the same racks and leaves are not grouped again (at 4,000
        nodes it cost most of a refresh)."""

    DEFAULT_CSS = """
    OverviewPane > Grid { grid-size: 2 2; grid-columns: 1fr 1fr; grid-rows: 1fr 1fr; }
    OverviewPane .panel { border: round $panel; height: 1fr; }
    OverviewPane .panel:focus-within { border: round $primary; }
    OverviewPane #empty-hint { padding: 1 1; color: $text-muted; }
    OverviewPane .panel > EntityTable { height: auto; max-height: 100%; overflow-x: hidden; }
    OverviewPane.-narrow #panel-findings { column-span: 2; }
    OverviewPane.-narrow #panel-sources { display: none; }
    """

    def on_resize(self) -> None:
        narrow = self.app.size.width < NARROW
        if narrow == self.has_class("-narrow"):
            return
        self.set_class(narrow, "-narrow")
        grid = self.query_one(Grid)
        findings = self.query_one("#panel-findings")
        table = self.query_one("#findings", EntityTable)
        if narrow:  # findings first, across the whole width; nodes and jobs below
            grid.move_child(findings, before=0)
            table.set_columns(FINDING_COLUMNS[:2])  # the title names the entity; Enter opens it
        else:
            grid.move_child(findings, after=self.query_one("#panel-nodes"))
            table.set_columns(FINDING_COLUMNS)

    def compose(self) -> ComposeResult:
        context = self.context
        with Grid():
            with Vertical(classes="panel", id="panel-nodes") as panel:
                panel.border_title = "Nodes × GPUs"
                yield EntityTable(context, ("Node", "GPUs", "Util", "Temp", "Power"), id="nodes",
                                  on_open=self._open_node_row)  # fmt: skip
                yield Static(EMPTY_HINT, id="empty-hint")
            with Vertical(classes="panel", id="panel-findings") as panel:
                panel.border_title = "Findings"
                yield EntityTable(context, FINDING_COLUMNS, id="findings")
            with Vertical(classes="panel", id="panel-jobs") as panel:
                panel.border_title = "Jobs"
                yield EntityTable(context, ("Job", "State", "Pace", "Name"), id="jobs")
            with Vertical(classes="panel", id="panel-sources") as panel:
                panel.border_title = "Sources"
                yield EntityTable(context, SOURCE_COLUMNS, id="sources", openable=False)

    def refresh_view(self) -> None:
        findings = self.query_one("#findings", EntityTable)
        if not self._focused and self.context.store.findings:
            # What needs attention first: Enter on the top finding starts the walk.
            self._focused = True
            findings.focus()
        hint = self.query_one("#empty-hint", Static)
        hint.display = self.context.store.count("node") == 0
        if hint.display:
            hint.update(Text(empty_hint(self.context.sources())))  # plain: names are remote
        nodes = self.query_one("#nodes", EntityTable)
        # The panel has half the screen under the header, breadcrumbs and footer; its
        # own size is not known yet at the first draw.
        shown = (self.app.size.height - 3) // 2 - 3  # its border and the table's header
        nodes.sync_keys(self._node_order(shown), self._node_row)
        # One row per entity, its most severe finding (they come most severe first);
        # cells only for the rows in view: a fleet in trouble has thousands.
        first: dict[str, Finding] = {}
        for finding in self.context.store.findings:
            first.setdefault(finding.ref, finding)
        self.query_one("#findings", EntityTable).sync_keys(
            list(first), lambda ref: self._finding_cells(first[ref])
        )
        jobs = [job.ref for job in self.context.store.of_kind("job")]
        self.query_one("#jobs", EntityTable).sync_keys(jobs, self._job_row)
        self.query_one("#sources", EntityTable).sync(self._source_rows())
        store = self.context.store
        title = (
            "Findings (pending)" if store.findings_pending else f"Findings ({len(store.findings)})"
        )
        panel = self.query_one("#panel-findings")
        if panel.border_title != title:  # setting it, even unchanged, repaints the panel
            panel.border_title = title

    def action_drain(self) -> None:
        focused = self.screen.focused
        table = focused if isinstance(focused, EntityTable) else None
        ref = table.selected_ref if table is not None else None
        node = node_of(ref) if ref else None
        if ref is None or node is None:
            self.notify("select a finding or a node on a node or GPU to drain", markup=False)
            return
        reason = drain_reason(self.context.store, ref)
        confirm_action(self, self.context, slurm_action("drain", node, reason))

    def _open_node_row(self, key: str) -> None:
        # A group row unfolds (or folds) its nodes in place; a node row opens the node.
        if key.startswith(GROUP_PREFIX):
            self._unfolded ^= {key}
            self.refresh_view()
        else:
            self.context.open(key)

    def _node_order(self, shown: int) -> list[str]:
        """Nodes in name order while all ``shown`` rows fit; when they do not (a thousand
        nodes), one row per rack (or leaf), those with the most severe findings first
        (the rows in view are the ones that need attention), an unfolded one followed
        by its nodes; without racks or leaves, nodes with findings first."""
        store = self.context.store
        entities = store.of_kind("node")
        nodes = [node.ref for node in entities]
        grouped_by = ""
        try:
            if len(nodes) <= shown:
                return nodes
            worst = self._worst_nodes()
            last = self._grouping
            if last is None or last[1] != shown or not grouped_alike(last[0], entities):
                self._grouping = (entities, shown, group_nodes(entities, shown))
            else:  # the same groups: next time these objects are compared by identity
                self._grouping = (entities, shown, last[2])
            grouped_by, groups = self._grouping[2]
            if not grouped_by:
                return sorted(nodes, key=lambda ref: worst.get(ref, 9))  # name order within
            self._groups = groups
            order: list[str] = []
            for name in worst_first(groups, worst):
                key = f"{GROUP_PREFIX}{name}"
                order.append(key)
                if key in self._unfolded:
                    order += sorted(groups[name], key=lambda ref: worst.get(ref, 9))
            return order
        finally:
            self._show_grouping(grouped_by)

    def _show_grouping(self, grouped_by: str) -> None:
        if grouped_by == self._grouped_by:
            return
        self._grouped_by = grouped_by
        title = "Nodes × GPUs" + (f" by {grouped_by}" if grouped_by else "")
        self.query_one("#panel-nodes").border_title = title

    def _worst_nodes(self) -> dict[str, int]:
        """The most severe finding's rank (0 critical) on each node that has one."""
        store = self.context.store
        worst: dict[str, int] = {}
        rank = {"critical": 0, "warning": 1, "info": 2}
        for finding in store.findings:
            for ref in (finding.ref, *finding.related):
                parts = ref.split("/")
                if parts[0] in ("node", "gpu", "port") and len(parts) > 1:
                    node = f"node/{parts[1]}"
                    worst[node] = min(worst.get(node, 9), rank.get(finding.severity, 3))
        return worst

    def _group_row(self, key: str) -> list[Text]:
        """One rack's (or leaf's) row: its nodes' mean utilisations as heat blocks
        (averaged into ``GROUP_BLOCKS``), the mean, the hottest GPU and the draw (built
        only for the rows in view)."""
        store = self.context.store
        name = key.removeprefix(GROUP_PREFIX)
        refs = self._groups.get(name, [])
        means: list[float | None] = []
        temps: list[float] = []
        for ref in refs:
            gpus = store.child_refs(ref, "gpu")
            utils = [u for u in store.values(gpus, "gpu.util") if u is not None]
            means.append(sum(utils) / len(utils) if utils else None)
            temps += [t for t in store.values(gpus, "gpu.temp") if t is not None]
        known = [m for m in means if m is not None]
        draws = [d for ref in refs if (d := store.gpu_total(ref, "gpu.power")) is not None]
        hot = bool(temps) and max(temps) >= THRESHOLDS.gpu_hot_c
        mark = "▾" if key in self._unfolded else "▸"
        return [
            cell(f"{mark} {name} ({len(refs)})", style="bold", limit=20),
            gpu_heat(self, buckets(means, GROUP_BLOCKS)),
            cell(fmt(sum(known) / len(known), "%") if known else "n/a"),
            cell(
                fmt(max(temps), "°") if temps else "n/a",
                style=role_style(self, "gpu-hot") if hot else "",
            ),
            cell(fmt(sum(draws) / 1000, " kW", 1) if draws else "n/a"),
        ]

    def _node_row(self, ref: str) -> list[Text]:
        """One node's row (built only for the rows in view)."""
        if ref.startswith(GROUP_PREFIX):
            return self._group_row(ref)
        store = self.context.store
        node = store.get(ref)
        if node is None:
            return [cell(ref[5:])]
        gpus = store.child_refs(node.ref, "gpu")
        utils = store.values(gpus, "gpu.util")
        known = [u for u in utils if u is not None]
        temps = [t for t in store.values(gpus, "gpu.temp") if t is not None]
        power = [p for p in store.values(gpus, "gpu.power") if p is not None]
        hot = bool(temps) and max(temps) >= THRESHOLDS.gpu_hot_c
        heat = gpu_heat(self, utils) if gpus else cell(no_gpu_words(node.attrs))
        return [
            node_name_text(self, node.name, node.attrs.get("slurm_state")),
            heat,
            cell(fmt(sum(known) / len(known), "%") if known else "n/a"),
            cell(
                fmt(max(temps), "°") if temps else "n/a",
                style=role_style(self, "gpu-hot") if hot else "",
            ),
            cell(fmt(sum(power) / 1000, " kW", 1) if power else "n/a"),
        ]

    def _finding_cells(self, finding: Finding) -> list[Text]:
        return [
            severity_text(self, finding.severity),
            finding_title(self, finding, limit=80),
            cell(finding.ref, limit=80),
        ]

    def _job_row(self, ref: str) -> list[Text]:
        """One job's row (built only for the rows in view: its pace reads its series)."""
        store = self.context.store
        job = store.get(ref)
        if job is None:
            return [cell(ref[4:], limit=16)]
        loss = job_loss(store, job.ref)
        return [
            cell(job.ref[4:], limit=16),
            job_state_text(self, job_state(store, job.ref)),
            cell("n/a" if loss is None else f"{1 - loss:.0%}"),
            cell(job.name, limit=32),
        ]

    def _source_rows(self) -> Iterable[tuple[str, list[Text]]]:
        if self.has_class("-narrow"):
            return ()  # folded into the header's count: no work for a hidden panel
        return source_rows(self)
