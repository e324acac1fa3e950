"""The power pane: fleet draw and cost now, the waste, and every node's share."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from console.api import (
    EntityTable,
    PaneBase,
    PaneContext,
    cell,
    fmt,
    power_summary,
    role_style,
    spark,
    title_bar,
)

SPARK_WIDTH = 16
MAX_LISTED = 6
"""Throttled GPUs named in the summary; the rest are counted."""


class PowerView(PaneBase):
    """Fleet summary (draw, cost per hour, waste), then nodes by draw; Enter opens a node."""

    DEFAULT_CSS = """
    PowerView > #summary { height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield title_bar("Power and cost")
        yield Static(id="summary", classes="pane-body")
        yield title_bar("Nodes by draw")
        yield EntityTable(
            self.context,
            ("Node", "Rack", "Draw", "Of limit", "Headroom", "Today", "Energy/h", "History"),
        )

    def refresh_view(self) -> None:
        store, model = self.context.store, self.context.cost
        summary = power_summary(store, model)
        money = summary["currency"]
        waste = summary["waste"]
        text = Text()
        text.append(f"draw {summary['draw_w'] / 1000:,.1f} kW   ", style="bold")
        text.append(f"energy {summary['energy_cost_per_hour']:,.2f} {money}/h   ")
        text.append(f"today {summary['energy_kwh_today']:,.2f} kWh   ")
        text.append(f"(PUE {model.pue:g}, {model.price_at(store.time or 0):g} {money}/kWh)\n",
                    style="dim")  # fmt: skip
        wasted = role_style(self, "warning", bold=True)
        text.append("waste: ", style="bold")
        text.append(f"{waste['idle_gpus']} idle GPUs {waste['idle_cost_per_hour']:,.2f} {money}/h",
                    style=wasted if waste["idle_gpus"] else "")  # fmt: skip
        alarm = role_style(self, "error", bold=True)
        for job in waste["stalled_jobs"]:
            text.append("\n       ")
            text.append(f"stalled {job['ref']}: {job['gpus']} GPUs, "
                        f"{job['cost_per_hour']:,.2f} {money}/h, {job['burned']:,.2f} {money} "
                        "burned since it stalled", style=alarm)  # fmt: skip
        for job in summary["inference"]:
            text.append("\ninference ", style="bold")
            per_million = job["cost_per_million_tokens"]
            text.append(f"{job['ref']}: {job['tokens_per_s']:,.0f} tokens/s, "
                        f"{per_million:,.3f} {money} per million tokens")  # fmt: skip
        capped = [g.ref.removeprefix("gpu/") for g in store.of_kind("gpu")
                  if g.attrs.get("throttled")]  # fmt: skip
        if capped:
            text.append("\nslowed by power or heat: ", style="bold")
            shown = ", ".join(capped[:MAX_LISTED]) + (" …" if len(capped) > MAX_LISTED else "")
            text.append(f"{len(capped)} GPUs ({shown})", style=role_style(self, "gpu-hot"))
        self.query_one("#summary", Static).update(text)
        self.query_one(EntityTable).sync(self._rows())

    def _rows(self) -> Iterable[tuple[str, list[Text]]]:
        store, model = self.context.store, self.context.cost
        rows = []
        for node in store.of_kind("node"):
            gpus = store.children(node.ref, "gpu")
            if not gpus:
                continue
            draw = sum(store.value(g.ref, "gpu.power") or 0.0 for g in gpus)
            limit = sum(store.value(g.ref, "gpu.power_limit") or 0.0 for g in gpus)
            today = sum(store.value(g.ref, "gpu.energy_today") or 0.0 for g in gpus) / 3.6e6
            histories = [store.history(g.ref, "gpu.power")[-SPARK_WIDTH:] for g in gpus]
            width = min((len(h) for h in histories), default=0)
            trend = [sum(h[-width + i] or 0.0 for h in histories) for i in range(width)]
            share = draw / limit if limit else None
            rows.append((draw, node.ref, [
                cell(node.name, limit=24),
                cell(node.attrs.get("rack", "—")),
                cell(fmt(draw / 1000, " kW", 2)),
                cell("n/a" if share is None else f"{share:.0%}"),
                cell(fmt((limit - draw) / 1000, " kW", 2) if limit else "n/a"),
                cell(fmt(today, " kWh", 3)),
                cell(f"{model.energy_cost_per_hour(draw, store.time or 0):,.2f}"),
                cell(spark(trend, SPARK_WIDTH)),
            ]))  # fmt: skip
        rows.sort(key=lambda row: (-row[0], row[1]))
        for _, ref, row in rows:
            yield ref, row


def create_power_pane(context: PaneContext, ref: str | None) -> PaneBase:
    """The pane factory: the power view."""
    return PowerView(context, ref)
