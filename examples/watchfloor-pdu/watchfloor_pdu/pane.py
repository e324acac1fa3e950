"""The PDUs pane: every PDU by load, one PDU with its outlets, one outlet.

Imported only when the pane is first shown (``lazy`` in ``__init__``), so it may
import Textual. Every string from a PDU goes through ``cell`` (plain text,
never markup).
"""

from __future__ import annotations

from collections.abc import Iterable

from console.api import (
    DetailPane,
    Entity,
    EntityTable,
    PaneBase,
    PaneContext,
    cell,
    facts_text,
    findings_text,
    fmt,
    metrics_text,
    plain,
    ref_kind,
    role_style,
    spark,
    title_bar,
)
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

PDU_METRICS = (
    "pdu.power",
    "pdu.load",
    "pdu.voltage",
    "pdu.current",
    "pdu.energy",
    "pdu.battery",
    "pdu.runtime",
)


def load_text(widget: PaneBase, pdu: Entity, load: float | None) -> Text:
    """``86%`` in the plugin's theme colours: ``pdu-high`` from warn_pct, ``pdu-overload``
    from crit_pct."""
    if load is None:
        return cell("n/a")
    role = ""
    if load >= pdu.attrs.get("crit_pct", 95):
        role = "pdu-overload"
    elif load >= pdu.attrs.get("warn_pct", 80):
        role = "pdu-high"
    return cell(f"{load:.0f}%", style=role_style(widget, role, bold=True) if role else "")


def ups_text(widget: PaneBase, store_value: float | None, pdu: Entity) -> Text:
    if not pdu.attrs.get("ups"):
        return cell("—")
    if pdu.attrs.get("on_battery"):
        return cell(f"ON BATTERY {fmt(store_value, '%')}", style=role_style(widget, "error", True))
    return cell(f"mains {fmt(store_value, '%')}")


class PduList(PaneBase):
    """All PDUs, busiest first."""

    DEFAULT_CSS = """
    PduList > .legend { height: 1; padding: 0 1; color: $pdu-high; }
    """

    def compose(self) -> ComposeResult:
        yield title_bar("PDUs")
        yield EntityTable(
            self.context,
            ("PDU", "Rack", "Load", "Power", "Volts", "UPS", "Outlets", "History"),
        )
        yield Static("Enter: a PDU's outlets   Esc: back", classes="legend")

    def refresh_view(self) -> None:
        self.query_one(EntityTable).sync(self._rows())

    def _rows(self) -> Iterable[tuple[str, list[Text]]]:
        store = self.context.store
        pdus = sorted(store.of_kind("pdu"), key=lambda p: -(store.value(p.ref, "pdu.load") or 0))
        for pdu in pdus:
            yield (
                pdu.ref,
                [
                    cell(pdu.name, limit=32),
                    cell(pdu.attrs.get("rack", ""), limit=16),
                    load_text(self, pdu, store.value(pdu.ref, "pdu.load")),
                    cell(fmt(store.value(pdu.ref, "pdu.power"), " W")),
                    cell(fmt(store.value(pdu.ref, "pdu.voltage"), " V", 1)),
                    ups_text(self, store.value(pdu.ref, "pdu.battery"), pdu),
                    cell(len(store.children(pdu.ref, "pdu-outlet"))),
                    cell(spark(store.history(pdu.ref, "pdu.power"), 16)),
                ],
            )


class PduDetail(PaneBase):
    """One PDU: its readings, its findings, and its outlets (Enter on an outlet opens
    the node it feeds, when the PDU says which)."""

    DEFAULT_CSS = """
    PduDetail > #findings { height: auto; max-height: 4; }
    PduDetail > #outlets { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield title_bar(self.ref or "")
        yield Static(id="summary", classes="pane-body")
        yield Static(id="findings", classes="pane-body")
        yield EntityTable(
            self.context,
            ("Outlet", "Name", "State", "Power", "Current", "Node"),
            id="outlets",
            on_open=self._open_outlet,
        )

    def _open_outlet(self, ref: str) -> None:
        outlet = self.context.store.get(ref)
        node = outlet.attrs.get("node") if outlet else None
        self.context.open(node if node and self.context.store.get(node) else ref)

    def refresh_view(self) -> None:
        store = self.context.store
        pdu = self.shown_entity("summary")
        if pdu is None:
            return
        facts = (
            f"{pdu.attrs.get('model') or 'PDU'} · {pdu.attrs.get('rack') or 'no rack'} · "
            f"rated {fmt(pdu.attrs.get('rated_watts'), ' W')}"
        )
        summary = Text(plain(facts, 120) + "\n", style="dim")
        summary.append_text(metrics_text(store, pdu.ref, PDU_METRICS, width=20))
        self.query_one("#summary", Static).update(summary)
        self.query_one("#findings", Static).update(findings_text(self, store, pdu.ref))
        self.query_one("#outlets", EntityTable).sync(self._outlets())

    def _outlets(self) -> Iterable[tuple[str, list[Text]]]:
        store = self.context.store
        for outlet in store.children(self.ref or "", "pdu-outlet"):
            yield (
                outlet.ref,
                [
                    cell(outlet.attrs.get("outlet", "")),
                    cell(outlet.name, limit=32),
                    cell(outlet.attrs.get("state", "?")),
                    cell(fmt(store.value(outlet.ref, "pdu-outlet.power"), " W")),
                    cell(fmt(store.value(outlet.ref, "pdu-outlet.current"), " A", 1)),
                    cell(outlet.attrs.get("node") or "—", limit=40),
                ],
            )


class OutletDetail(DetailPane):
    """One outlet: what it feeds, its readings."""

    SECTIONS = ("facts", "metrics")

    def sections(self, entity: Entity) -> dict[str, Text]:
        store = self.context.store
        return {
            "facts": facts_text(
                [("name", entity.name), *entity.attrs.items(), ("pdu", entity.parent)]
            ),
            "metrics": metrics_text(store, entity.ref, store.metrics_of(entity.ref)),
        }


def create(context: PaneContext, ref: str | None) -> PaneBase:
    """The pane for the list (``ref`` is None), a PDU, or an outlet."""
    if ref is None:
        return PduList(context)
    if ref_kind(ref) == "pdu-outlet":
        return OutletDetail(context, ref)
    return PduDetail(context, ref)
