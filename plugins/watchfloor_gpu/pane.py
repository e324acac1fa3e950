"""The GPU pane: every GPU in one table, and one GPU in detail."""

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
    facts_text,
    findings_text,
    fmt,
    metrics_text,
    role_style,
    spark,
    title_bar,
)

HOT_C = 85.0
DETAIL_METRICS = (
    "gpu.util", "gpu.mem_util", "gpu.mem_used", "gpu.temp", "gpu.power",
    "gpu.power_limit", "gpu.energy", "gpu.sm_clock", "gpu.mem_clock", "gpu.fan",
)  # fmt: skip


def owners(context: PaneContext) -> dict[str, str]:
    """GPU ref → ref of the job that holds it."""
    return {
        gpu: job.ref for job in context.store.of_kind("job") for gpu in job.attrs.get("gpus", [])
    }


class GpuList(PaneBase):
    """All GPUs, one row each; Enter opens one."""

    def compose(self) -> ComposeResult:
        yield title_bar("GPUs")
        yield EntityTable(
            self.context,
            ("GPU", "Model", "Util", "History", "Mem", "Temp", "Power", "Job"),
        )

    def refresh_view(self) -> None:
        self.query_one(EntityTable).sync(self._rows())

    def _rows(self) -> Iterable[tuple[str, list[Text]]]:
        store = self.context.store
        jobs = owners(self.context)
        for gpu in store.of_kind("gpu"):
            ref = gpu.ref
            temp = store.value(ref, "gpu.temp")
            used, total = store.value(ref, "gpu.mem_used"), store.value(ref, "gpu.mem_total")
            memory = "n/a" if used is None or not total else f"{used / total * 100:.0f}%"
            yield (
                ref,
                [
                    cell(ref[4:], limit=40),
                    cell(gpu.attrs.get("model") or "?", limit=28),
                    cell(fmt(store.value(ref, "gpu.util"), "%")),
                    cell(spark(store.history(ref, "gpu.util"), 10, top=100)),
                    cell(memory),
                    cell(
                        fmt(temp, "°"),
                        style=role_style(self, "gpu-hot") if (temp or 0) >= HOT_C else "",
                    ),
                    cell(fmt(store.value(ref, "gpu.power"), " W")),
                    cell(jobs.get(ref, "—")),
                ],
            )


class GpuDetail(DetailPane):
    """One GPU: identity, every metric with its history, its job, its findings."""

    SECTIONS = ("identity", "metrics", "findings")

    def sections(self, entity: Entity) -> dict[str, Text]:
        store = self.context.store
        identity = [(key, entity.attrs.get(key)) for key in ("model", "uuid", "pci_bus_id")]
        identity.append(("job", owners(self.context).get(entity.ref, "none")))
        return {
            "identity": facts_text(identity),
            "metrics": metrics_text(store, entity.ref, DETAIL_METRICS),
            "findings": findings_text(self, store, entity.ref),
        }


def create_gpu_pane(context: PaneContext, ref: str | None) -> PaneBase:
    """The pane factory: the list, or one GPU."""
    return GpuList(context) if ref is None else GpuDetail(context, ref)
