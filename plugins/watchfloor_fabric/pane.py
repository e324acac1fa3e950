"""The fabric pane: links busiest first, and one link with both ends' counters."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.api import (
    EntityTable,
    PaneBase,
    PaneContext,
    cell,
    findings_text,
    fmt,
    metric_line,
    role_style,
    title_bar,
)

HOT_UTIL = 90.0
PORT_METRICS = (
    "port.tx_bytes", "port.rx_bytes", "port.xmit_wait", "port.ecn_marked",
    "port.cnp_sent", "port.discards", "port.symbol_errors",
)  # fmt: skip


class LinkList(PaneBase):
    """Every link, busiest first."""

    def compose(self) -> ComposeResult:
        yield title_bar("Fabric links")
        yield EntityTable(self.context, ("Link", "Tier", "Util", "a→b", "b→a", "Xmit wait/s"))

    def refresh_view(self) -> None:
        self.query_one(EntityTable).sync(self._rows())

    def _rows(self) -> Iterable[tuple[str, list[Text]]]:
        store = self.context.store
        rows = []
        for link in store.of_kind("link"):
            util = store.value(link.ref, "link.util")
            waits = [
                w
                for end in ("a", "b")
                if (w := store.value(str(link.attrs.get(end)), "port.xmit_wait")) is not None
            ]
            hot = util is not None and util >= HOT_UTIL
            rows.append(
                (
                    -(util or 0.0),
                    link.ref,
                    [
                        cell(link.name, limit=60),
                        cell(link.attrs.get("tier", "")),
                        cell(
                            fmt(util, "%"), style=role_style(self, "link-congested") if hot else ""
                        ),
                        cell(fmt(store.value(link.ref, "link.util_ab"), "%")),
                        cell(fmt(store.value(link.ref, "link.util_ba"), "%")),
                        cell(fmt(max(waits) if waits else None)),
                    ],
                )
            )
        rows.sort(key=lambda r: (r[0], r[1]))
        for _, ref, row in rows:
            yield ref, row


class LinkDetail(PaneBase):
    """One link: utilisation history each way, both ports' counters, findings."""

    def compose(self) -> ComposeResult:
        yield title_bar(self.ref or "")
        with VerticalScroll():
            yield Static(id="util", classes="pane-body")
            yield Static(id="ends", classes="pane-body")
            yield Static(id="findings", classes="pane-body")

    def refresh_view(self) -> None:
        store = self.context.store
        link = store.get(self.ref or "")
        if link is None:
            self.query_one("#util", Static).update(Text("gone", style="dim"))
            return
        util = Text(
            f"{cell(link.name, limit=80).plain}   {link.attrs.get('speed_gbps', '?')} Gb/s\n"
        )
        for metric in ("link.util", "link.util_ab", "link.util_ba"):
            util.append_text(metric_line(store, link.ref, metric, width=40))
            util.append("\n")
        self.query_one("#util", Static).update(util)
        ends = Text()
        for end in ("a", "b"):
            port = str(link.attrs.get(end))
            ends.append(f"\n{end}: {cell(port, limit=80).plain}\n", style="bold")
            for metric in PORT_METRICS:
                ends.append_text(metric_line(store, port, metric, width=40))
                ends.append("\n")
        self.query_one("#ends", Static).update(ends)
        self.query_one("#findings", Static).update(findings_text(self, store, link.ref))


def create_fabric_pane(context: PaneContext, ref: str | None) -> PaneBase:
    """The pane factory: the link list, or one link."""
    return LinkList(context) if ref is None else LinkDetail(context, ref)
