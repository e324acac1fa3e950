"""The power pane: fleet draw and cost now, the waste, and every node's share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from console.api import (
    BUDGETS,
    EntityTable,
    PaneBase,
    PaneContext,
    SteadyValues,
    SteppedSparks,
    cell,
    fmt,
    fmt_age,
    plural,
    power_summary,
    role_style,
    title_bar,
)

SPARK_WIDTH = 7
"""Characters of a node's draw history, each the mean of ``SPARK_STEP`` s (70 s): as
wide as its header, so the table still fits 80 columns."""
STEADY_STEPS: dict[str, float] = {"draw": 100.0, "host": 20.0}
"""How far a node's GPU draw and host draw (W) must move before the list shows them
again: eight GPUs' draw jitters by tens of watts every second, and rows redrawn and
reordered for that sent 10 KB/s over SSH."""
NodeDraw = tuple[float, str]
"""A node's steady GPU draw and its ref: all that orders the list."""
HOST_ENERGY = ("node.cpu_energy", "node.dram_energy")
"""RAPL counters (their rates are the host's CPU and DRAM watts)."""
MAX_LISTED = 6
"""Throttled GPUs named in the summary; the rest are counted."""
MAX_JOB_LINES = 3
"""Stalled and inference jobs given a line each in the summary, the costliest first; the
rest are counted (a fleet runs hundreds: their lines pushed the racks off the screen)."""


class PowerView(PaneBase):
    """Fleet summary (draw, cost per hour, waste), then racks and their nodes by draw.

    ``Enter`` on a rack folds or unfolds it; on a node, opens it (and from there a GPU).
    """

    def __init__(self, context: PaneContext, ref: str | None = None) -> None:
        super().__init__(context, ref)
        self._folded: set[str] = set()
        self._steady = SteadyValues(STEADY_STEPS)
        self._sparks = SteppedSparks(SPARK_WIDTH)

    DEFAULT_CSS = """
    PowerView > #summary { height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield title_bar("Power and cost")
        yield Static(id="summary", classes="pane-body")
        yield title_bar("Racks and nodes by draw")
        yield EntityTable(
            self.context,
            ("Rack / node", "GPU draw", "Of limit", "Headroom", "Host", "Today", "Energy/h",
             "History"),
            on_open=self._open,
        )  # fmt: skip

    def _open(self, key: str) -> None:
        # A rack row folds or unfolds its nodes; a node row opens the node.
        if key.startswith("rack:"):
            self._folded ^= {key}
            self.refresh_view()
        else:
            self.context.open(key)

    def refresh_view(self) -> None:
        store, model = self.context.store, self.context.cost
        summary = power_summary(store, model)
        money = summary["currency"]
        waste = summary["waste"]
        text = Text()
        text.append(f"draw {summary['draw_w'] / 1000:,.1f} kW   ", style="bold")
        text.append(f"energy {summary['energy_cost_per_hour']:,.2f} {money}/h   ")
        text.append(f"today {summary['energy_kwh_today']:,.2f} kWh   ")
        text.append(f"since start {summary['energy_kwh_since_start']:,.2f} kWh   ")
        text.append(f"(PUE {model.pue:g}, {model.price_at(store.time or 0):g} {money}/kWh)\n",
                    style="dim")  # fmt: skip
        wasted = role_style(self, "warning", bold=True)
        text.append("waste: ", style="bold")
        idle = plural(waste["idle_gpus"], "idle GPU")
        text.append(f"{idle} {waste['idle_cost_per_hour']:,.2f} {money}/h",
                    style=wasted if waste["idle_gpus"] else "")  # fmt: skip
        if waste.get("out_of_service_gpus"):
            out = plural(waste["out_of_service_gpus"], "GPU")
            text.append(f"  ({out} on drained or down nodes not counted)", style="dim")
        alarm = role_style(self, "error", bold=True)
        stalled = sorted(waste["stalled_jobs"], key=lambda job: -job["cost_per_hour"])
        for job in stalled[:MAX_JOB_LINES]:
            text.append("\n       ")
            # Burned over the stall its own readings show (``power_summary``), said so.
            stalled_for = fmt_age(job["stalled_s"])
            text.append(f"stalled {job['ref']}: {plural(job['gpus'], 'GPU')}, "
                        f"{job['cost_per_hour']:,.2f} {money}/h, {job['burned']:,.2f} {money} "
                        f"burned over {stalled_for} stalled", style=alarm)  # fmt: skip
        _count_rest(text, len(stalled), "stalled jobs")
        inference = sorted(summary["inference"], key=lambda job: -job["cost_per_million_tokens"])
        for job in inference[:MAX_JOB_LINES]:
            text.append("\ninference ", style="bold")
            per_million = job["cost_per_million_tokens"]
            text.append(f"{job['ref']}: {job['tokens_per_s']:,.0f} tokens/s, "
                        f"{per_million:,.3f} {money} per million tokens")  # fmt: skip
        _count_rest(text, len(inference), "inference jobs")
        since = store.analysis_state.get("capped_since", {})
        capped = []
        for gpu in [gpu for gpu in store.of_kind("gpu") if gpu.attrs.get("throttled")]:
            start = since.get(gpu.ref)
            age = f" {fmt_age((store.time or 0) - start)}" if start is not None else ""
            capped.append(gpu.ref.removeprefix("gpu/") + age)
        if capped:
            text.append("\nslowed by power or heat: ", style="bold")
            shown = ", ".join(capped[:MAX_LISTED]) + (" …" if len(capped) > MAX_LISTED else "")
            slowed = plural(len(capped), "GPU")
            text.append(f"{slowed} ({shown})", style=role_style(self, "gpu-hot"))
        self.show_text("summary", text)
        builders = dict(self._rows())  # order and totals for all; cells for the rows in view
        self.query_one(EntityTable).sync_keys(list(builders), lambda key: builders[key]())

    def _rows(self) -> Iterable[tuple[str, Callable[[], list[Text]]]]:
        """Racks by draw, each followed by its nodes by draw (unless folded).

        Draws are the steady ones shown (:data:`STEADY_STEPS`), ties by name: jitter
        under a step neither redraws nor reorders a row. The order needs only each
        node's draw; the other figures are read for the rows in view.
        """
        store, steady = self.context.store, self._steady
        racks: dict[str, list[NodeDraw]] = {}
        nodes = store.of_kind("node")
        if len(steady) > 2 * len(STEADY_STEPS) * len(nodes) + 64:  # nodes that went away
            listed = {node.ref for node in nodes}
            steady.forget(listed)
            self._sparks.forget(listed)
        for node in nodes:
            # The store keeps each node's GPU totals as readings land: no GPU is walked.
            draw = store.gpu_total(node.ref, "gpu.power")
            if draw is None and not any(
                store.gpu_total(node.ref, m) is not None
                for m in ("gpu.power_limit", "gpu.energy_today")
            ):
                continue  # no GPUs (or none that reports power)
            draw = steady.hold(node.ref, "draw", draw or 0.0) or 0.0
            racks.setdefault(str(node.attrs.get("rack") or "no rack"), []).append((draw, node.ref))
        now = store.time or 0.0
        for rack in sorted(racks, key=lambda r: (-sum(n[0] for n in racks[r]), r)):
            nodes_by_draw = sorted(racks[rack], key=lambda n: (-n[0], n[1]))
            key = f"rack:{rack}"
            mark = "▸" if key in self._folded else "▾"
            yield key, partial(self._rack_cells, rack, f"{mark} {rack}", nodes_by_draw, now)
            if key in self._folded:
                continue
            for node_draw, ref in nodes_by_draw:
                yield ref, partial(self._node_cells, node_draw, ref, now)

    def _figures(self, ref: str) -> tuple[float, float, float]:
        """A node's GPU power limit (W), GPU energy today (kWh) and steady host draw (W)."""
        store = self.context.store
        host = sum(store.value(ref, m) or 0.0 for m in HOST_ENERGY)
        return (
            store.gpu_total(ref, "gpu.power_limit") or 0.0,
            (store.gpu_total(ref, "gpu.energy_today") or 0.0) / 3.6e6,
            self._steady.hold(ref, "host", host) or 0.0,
        )

    def _rack_cells(self, rack: str, label: str, nodes: list[NodeDraw], now: float) -> list[Text]:
        """A rack's row: its nodes' totals (built only when in view)."""
        figures = [self._figures(ref) for _, ref in nodes]
        draw, limit = sum(n[0] for n in nodes), sum(f[0] for f in figures)
        host_total = sum(f[2] for f in figures)
        budget = BUDGETS.racks.get(rack)
        over = budget is not None and draw > budget
        room = f"budget {budget / 1000:,.1f} kW" if budget else fmt((limit - draw) / 1000, " kW", 2)
        return [
            cell(label, style="bold"),
            cell(fmt(draw / 1000, " kW", 2),
                 style=role_style(self, "error", True) if over else "bold"),
            cell(f"{draw / limit:.0%}" if limit else "n/a"),
            cell(room),
            cell(fmt(host_total, " W") if host_total else "n/a"),
            cell(fmt(sum(f[1] for f in figures), " kWh", 2)),
            cell(f"{self.context.cost.energy_cost_per_hour(draw, now):,.2f}"),
            cell(""),
        ]  # fmt: skip

    def _node_cells(self, node_draw: float, ref: str, now: float) -> list[Text]:
        """One node's row: built only when in view (its trend reads every GPU's history)."""
        model = self.context.cost
        node_limit, today, host = self._figures(ref)
        name = ref.removeprefix("node/")
        share = node_draw / node_limit if node_limit else None
        return [
            cell(f"   {name}", limit=28),
            cell(fmt(node_draw / 1000, " kW", 2)),
            cell("n/a" if share is None else f"{share:.0%}"),
            cell(fmt((node_limit - node_draw) / 1000, " kW", 2) if node_limit else "n/a"),
            cell(fmt(host, " W") if host else "n/a"),
            cell(fmt(today, " kWh", 2)),
            cell(f"{model.energy_cost_per_hour(node_draw, now):,.2f}"),
            cell(self._sparks.line(ref, now, partial(self._trend, ref))),
        ]

    def _trend(self, ref: str) -> list[float | None]:
        """A node's GPU draw over the history kept (the sum of its GPUs')."""
        store = self.context.store
        gpus = store.children(ref, "gpu")
        histories = [store.history(g.ref, "gpu.power") for g in gpus]
        width = min((len(h) for h in histories), default=0)
        return [sum(h[-width + i] or 0.0 for h in histories) for i in range(width)]


def create_power_pane(context: PaneContext, ref: str | None) -> PaneBase:
    """The pane factory: the power view."""
    return PowerView(context, ref)


def _count_rest(text: Text, count: int, what: str) -> None:
    """Says how many of ``count`` got no line of their own (``j`` lists every job)."""
    if count > MAX_JOB_LINES:
        text.append(f"\n       … {count - MAX_JOB_LINES} more {what} (j lists every job)",
                    style="dim")  # fmt: skip
