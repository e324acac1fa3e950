"""The fabric pane: links busiest first, and one link with both ends' counters."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult

from console.api import (
    DetailPane,
    Entity,
    EntityTable,
    PaneBase,
    PaneContext,
    cell,
    findings_text,
    fmt,
    metrics_text,
    role_style,
    title_bar,
)

HOT_UTIL = 90.0
LINK_METRICS = ("link.util", "link.util_ab", "link.util_ba")
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


class LinkDetail(DetailPane):
    """One link: utilisation history each way, both ports' counters, findings."""

    SECTIONS = ("util", "ends", "findings")

    def sections(self, entity: Entity) -> dict[str, Text]:
        store = self.context.store
        util = Text(f"{cell(entity.name, limit=80).plain}   ")
        util.append(f"{entity.attrs.get('speed_gbps', '?')} Gb/s\n")
        util.append_text(metrics_text(store, entity.ref, LINK_METRICS, width=40))
        ends = Text()
        for end in ("a", "b"):
            port = str(entity.attrs.get(end))
            ends.append(f"\n{end}: {cell(port, limit=80).plain}\n", style="bold")
            ends.append_text(metrics_text(store, port, PORT_METRICS, width=40))
        return {"util": util, "ends": ends, "findings": findings_text(self, store, entity.ref)}


def create_fabric_pane(context: PaneContext, ref: str | None) -> PaneBase:
    """The pane factory: the link list, or one link."""
    return LinkList(context) if ref is None else LinkDetail(context, ref)
