"""Detail views the core provides: a node, and any entity no plugin pane opens."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from console.acting.actions import drain_reason, slurm_action
from console.analysis.cost import OUT_OF_SERVICE
from console.analysis.thresholds import THRESHOLDS
from console.core.model import Entity
from console.core.text import plain
from console.ui.kit import (
    DetailPane,
    EntityTable,
    PaneBase,
    cell,
    confirm_action,
    facts_text,
    findings_text,
    fmt,
    fmt_bytes_rate,
    metrics_text,
    plural,
    role_style,
    spark,
    title_bar,
)

SLURM_TROUBLE = OUT_OF_SERVICE
"""Slurm node states shown as a warning: those that take no new job."""


def slurm_line(widget: PaneBase, node: Entity) -> Text:
    """``slurm  drained (gpu 3 XID 79)  8 GPUs (2 in use)`` ('' for a node Slurm does not name)."""
    state = node.attrs.get("slurm_state")
    if not isinstance(state, str):
        return Text()
    text = Text("slurm  ", style="bold")
    role = "warning" if state in SLURM_TROUBLE else "ok"
    text.append(plain(state, 20), style=role_style(widget, role, bold=state in SLURM_TROUBLE))
    reason = node.attrs.get("slurm_reason")
    if reason:
        text.append(f" ({plain(reason, 120)})")
    gpus, used = node.attrs.get("slurm_gpus"), node.attrs.get("slurm_gpus_used")
    if isinstance(gpus, int):
        text.append("   " + plural(gpus, "GPU"))
        if isinstance(used, int):
            text.append(f" ({used} in use)")
    return text


class EntityDetail(DetailPane):
    """Any entity: its facts, every metric with a sparkline, and its findings."""

    SECTIONS = ("facts", "metrics", "findings")

    def sections(self, entity: Entity) -> dict[str, Text]:
        store = self.context.store
        return {
            "facts": facts_text([("name", entity.name), *entity.attrs.items()]),
            "metrics": metrics_text(
                store,
                entity.ref,
                store.metrics_of(entity.ref),
                fit=self.content_size.width or self.app.size.width - 2,
            ),
            "findings": findings_text(self, store, entity.ref),
        }


class NodeDetail(PaneBase):
    """A node: its GPUs (Enter opens one), its ports, the jobs on it, its findings.

    ``d`` drains the node in Slurm (the worst finding as the reason), ``r``
    resumes it: each shows the exact command and asks first.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "act('drain')", "Drain"),
        Binding("r", "act('resume')", "Resume"),
    ]

    DEFAULT_CSS = """
    NodeDetail > #gpus { height: 2fr; }
    NodeDetail > #ports { height: 1fr; }
    NodeDetail > #node-findings { height: auto; max-height: 8; }
    """

    def compose(self) -> ComposeResult:
        yield title_bar(self.ref or "")
        yield Static(id="summary", classes="pane-body")
        yield EntityTable(
            self.context, ("GPU", "Util", "History", "Mem", "Temp", "Power", "SM MHz", "Job"),
            id="gpus",
        )  # fmt: skip
        yield EntityTable(self.context, ("Port", "Tx", "Rx", "Xmit wait/s", "Link"), id="ports")
        yield Static(id="node-findings", classes="pane-body")

    def _jobs_by_gpu(self) -> dict[str, str]:
        owners: dict[str, str] = {}
        for job in self.context.store.of_kind("job"):
            for gpu in job.attrs.get("gpus", []):
                owners[gpu] = job.ref
        return owners

    def refresh_view(self) -> None:
        store = self.context.store
        node = self.shown_entity("summary")
        if node is None:
            return
        summary = Text()
        cpu, load = store.value(node.ref, "node.cpu_util"), store.value(node.ref, "node.load1")
        if cpu is not None or load is not None:  # a node Slurm alone names has neither
            summary.append(fmt(cpu, "% CPU") + "   ")
            summary.append(fmt(load, " load", 1) + "   ")
        used, total = (
            store.value(node.ref, "node.mem_used"),
            store.value(node.ref, "node.mem_total"),
        )
        if used is not None and total:
            summary.append(f"mem {used / 2**30:,.0f}/{total / 2**30:,.0f} GiB   ")
        for key in ("role", "rack", "leaf"):
            if key in node.attrs:
                summary.append(f"{key} {cell(node.attrs[key]).plain}   ", style="dim")
        slurm = slurm_line(self, node)
        if slurm.plain and summary.plain:
            summary.append("\n")
        summary.append_text(slurm)
        self.show_text("summary", summary)
        self.query_one("#gpus", EntityTable).sync(self._gpu_rows())
        self.query_one("#ports", EntityTable).sync(self._port_rows())
        self.show_text("node-findings", findings_text(self, store, node.ref))

    def action_act(self, verb: str) -> None:
        ref = self.ref or ""
        reason = drain_reason(self.context.store, ref) if verb == "drain" else ""
        confirm_action(self, self.context, slurm_action(verb, ref, reason))

    def _gpu_rows(self) -> Iterable[tuple[str, list[Text]]]:
        store = self.context.store
        owners = self._jobs_by_gpu()
        for gpu in store.children(self.ref or "", "gpu"):
            ref = gpu.ref
            temp = store.value(ref, "gpu.temp")
            mem = store.value(ref, "gpu.mem_used")
            hot = role_style(self, "gpu-hot") if (temp or 0) >= THRESHOLDS.gpu_hot_c else ""
            yield (
                ref,
                [
                    cell(gpu.name),
                    cell(fmt(store.value(ref, "gpu.util"), "%")),
                    cell(spark(store.history(ref, "gpu.util"), 12, top=100)),
                    cell("n/a" if mem is None else f"{mem / 1024:,.0f} GiB"),
                    cell(fmt(temp, "°"), style=hot),
                    cell(fmt(store.value(ref, "gpu.power"), " W")),
                    cell(fmt(store.value(ref, "gpu.sm_clock"))),
                    cell(owners.get(ref, "—")),
                ],
            )

    def _port_rows(self) -> Iterable[tuple[str, list[Text]]]:
        store = self.context.store
        for port in store.children(self.ref or "", "port"):
            ref = port.ref
            yield (
                ref,
                [
                    cell(port.name),
                    cell(fmt_bytes_rate(store.value(ref, "port.tx_bytes"))),
                    cell(fmt_bytes_rate(store.value(ref, "port.rx_bytes"))),
                    cell(fmt(store.value(ref, "port.xmit_wait"))),
                    cell(port.attrs.get("link", "—"), limit=60),
                ],
            )
