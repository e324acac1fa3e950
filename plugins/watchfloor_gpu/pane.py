"""The GPU pane: every GPU of the fleet in one sortable table, and one GPU in detail."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from typing import Any, ClassVar

import psutil
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.api import (
    THRESHOLDS,
    Action,
    Entity,
    EntityTable,
    PaneBase,
    PaneContext,
    SteadyValues,
    SteppedSparks,
    Store,
    cell,
    confirm_action,
    drain_reason,
    facts_text,
    findings_text,
    fmt,
    fmt_age,
    metrics_text,
    node_of,
    plain,
    role_style,
    short_reasons,
    slurm_action,
    title_bar,
)

HISTORY_METRICS = ("gpu.util", "gpu.power", "gpu.temp", "gpu.mem_used", "gpu.sm_clock")
LINK_METRICS = ("gpu.pcie_tx", "gpu.pcie_rx", "gpu.nvlink_errors")
ERROR_METRICS = (
    "gpu.ecc_corrected_volatile", "gpu.ecc_uncorrected_volatile",
    "gpu.ecc_corrected_aggregate", "gpu.ecc_uncorrected_aggregate",
    "gpu.remapped_correctable", "gpu.remapped_uncorrectable",
    "gpu.retired_pages_sbe", "gpu.retired_pages_dbe",
)  # fmt: skip


def owners(store: Store) -> dict[str, str]:
    """GPU ref → ref of the job that holds it."""
    return {gpu: job.ref for job in store.of_kind("job") for gpu in job.attrs.get("gpus", [])}


def health_text(pane: PaneBase, gpu: Entity) -> Text:
    """``ok``, or what is wrong, in the theme's colour for it."""
    health = str(gpu.attrs.get("health") or "n/a")
    if health == "ok":
        return Text("ok", style=role_style(pane, "ok"))
    role = "error" if health.startswith(("lost", "XID")) else "warning"
    return cell(health, style=role_style(pane, role, bold=role == "error"), limit=40)


def throttle_text(pane: PaneBase, gpu: Entity, short: bool = False) -> Text:
    """Why a GPU is slowed down, highlighted; ``—`` when it is not."""
    reasons = gpu.attrs.get("throttle")
    if reasons is None:
        return Text("n/a", style="dim")
    words = short_reasons(reasons) if short else ", ".join(reasons)
    if not gpu.attrs.get("throttled"):
        return Text(words or "—", style="dim")
    return cell(words, style=role_style(pane, "gpu-hot", bold=True), limit=80)


def health_rank(gpu: Entity) -> int:
    """0 sick and throttled, 1 sick, 2 throttled, 3 well: the health order."""
    return 2 * (gpu.attrs.get("health") == "ok") + (not gpu.attrs.get("throttled"))


def by_health(gpus: list[Entity]) -> list[Entity]:
    """GPUs in :func:`health_rank` order, each rank in the order given (a stable sort).
    Most GPUs are well: one pass finds them, and only the others are sorted (a keyed
    sort of 32,000 GPUs at each refresh cost 0.1 s at 4,000 nodes)."""
    well = [(attrs := gpu.attrs).get("health") == "ok" and not attrs.get("throttled")
            for gpu in gpus]  # fmt: skip
    if all(well):
        return gpus
    sick = sorted((gpu for gpu, fine in zip(gpus, well, strict=True) if not fine),
                  key=health_rank)  # fmt: skip
    return sick + [gpu for gpu, fine in zip(gpus, well, strict=True) if fine]


SORTS = ("node", "util", "temp", "power", "health")
"""Sort orders ``s`` cycles through: the store's natural order, three readings (busiest
and hottest first, by the values shown: jitter under a step does not reorder rows; ties
in the store's order), and :func:`by_health`."""


STEADY_STEPS: dict[str, float] = {"gpu.util": 5.0, "gpu.power": 30.0, "gpu.temp": 3.0}
"""How far a reading must move before the list shows it again (%, W, °C): a busy GPU
jitters by a few units every second, and redrawing 32 rows for that is most of what
the pane sent over SSH (9 KB/s). The GPU's own view shows every reading."""
SPARK_WIDTH = 7
"""Characters of the list's utilisation sparklines, each the mean of ``SPARK_STEP`` s
(70 s): as wide as the column's header, so the list keeps its columns at 80 wide."""


class GpuList(PaneBase):
    """All GPUs of the fleet, one row each: ``s`` changes the order, ``Enter`` opens one.

    Bytes matter over SSH: values are shown steadily (:data:`STEADY_STEPS`) and the
    sparklines move once per ``SPARK_STEP`` seconds.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("s", "next_sort", "Sort")]

    def __init__(self, context: PaneContext, ref: str | None = None) -> None:
        super().__init__(context, ref)
        self.sort = "node"
        """The current order (a key of ``SORTS``)."""
        self._chosen = False
        """Whether ``s`` chose the order; until then a list longer than the screen
        opens by health (the sick and the throttled first: worst first at fleet size)."""
        self._jobs: dict[str, str] = {}
        self._steady = SteadyValues(STEADY_STEPS)
        self._sparks = SteppedSparks(SPARK_WIDTH, top=100.0)

    def compose(self) -> ComposeResult:
        yield title_bar("GPUs")
        yield EntityTable(
            self.context,
            ("GPU", "Util", "History", "Mem", "Temp", "Power", "Throttle", "Health", "Job",
             "Model"),
        )  # fmt: skip

    def action_next_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._chosen = True
        self.query_one(".pane-title", Static).update(Text(f"GPUs, by {self.sort}"))
        self.refresh_view()
        self.query_one(EntityTable).move_to_top()  # a new order is read from the top

    def refresh_view(self) -> None:
        store = self.context.store
        gpus = store.of_kind("gpu")
        fits = len(gpus) <= self.app.size.height
        order = self.sort if self._chosen or fits else "health"
        if order == "health":
            gpus = by_health(gpus)
        elif order != "node":
            shown, metric = functools.partial(self._steady.value, store), f"gpu.{order}"
            gpus.sort(key=lambda gpu: shown(gpu.ref, metric) or 0.0, reverse=True)
        # Cells are built only for the rows in view: a fleet has thousands.
        self._jobs = owners(store)
        if len(self._sparks) > 2 * len(gpus) + 64:  # GPUs that went away
            listed = {gpu.ref for gpu in gpus}
            self._steady.forget(listed)
            self._sparks.forget(listed)
        self.query_one(EntityTable).sync_keys([gpu.ref for gpu in gpus], self._row)

    def _row(self, ref: str) -> list[Text]:
        store = self.context.store
        gpu = store.get(ref)
        if gpu is None:
            return [cell(ref.removeprefix("gpu/"))]
        steady = self._steady
        temp = steady.value(store, ref, "gpu.temp")
        used, total = store.value(ref, "gpu.mem_used"), store.value(ref, "gpu.mem_total")
        memory = "n/a" if used is None or not total else f"{used / total * 100:.0f}%"
        hot = role_style(self, "gpu-hot") if (temp or 0) >= THRESHOLDS.gpu_hot_c else ""
        return [
            cell(ref.removeprefix("gpu/"), limit=40),
            cell(fmt(steady.value(store, ref, "gpu.util"), "%")),
            cell(self._sparks.line(ref, store.time, lambda: store.history(ref, "gpu.util"))),
            cell(memory),
            cell(fmt(temp, "°"), style=hot),
            cell(fmt(steady.value(store, ref, "gpu.power"), " W")),
            throttle_text(self, gpu, short=True),
            health_text(self, gpu),
            cell(self._jobs.get(ref, "—")),
            cell(gpu.attrs.get("model") or "?", limit=24),
        ]


class GpuDetail(PaneBase):
    """One GPU: identity, health, history sparklines, links, errors, and its processes.

    ``k`` kills the selected process: local GPUs only, after confirmation, never
    under ``--read-only``. ``d`` drains the GPU's node in Slurm, its finding as the
    reason. Both are audited.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "kill", "Kill process"),
        Binding("d", "drain", "Drain node"),
    ]
    DEFAULT_CSS = """
    GpuDetail > VerticalScroll { height: 2fr; }
    GpuDetail > #processes { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield title_bar(self.ref or "")
        with VerticalScroll():
            for section in ("identity", "health", "history", "links", "errors", "findings"):
                yield Static(id=section, classes="pane-body")
        yield EntityTable(
            self.context, ("PID", "User", "GPU mem", "SM %", "Command"), id="processes",
            openable=False,
        )  # fmt: skip

    def refresh_view(self) -> None:
        store = self.context.store
        gpu = self.shown_entity("identity")
        if gpu is None:
            return
        attrs = gpu.attrs
        mig = attrs.get("mig")
        identity = facts_text([
            ("model", attrs.get("model")), ("uuid", attrs.get("uuid")),
            ("serial", attrs.get("serial")), ("pci bus", attrs.get("pci_bus_id")),
            ("pcie link", attrs.get("pcie")), ("p-state", attrs.get("pstate")),
            ("nvlink", attrs.get("nvlink")),
            ("mig", "off" if mig is None else f"{len(mig)} instances"),
            ("job", owners(store).get(gpu.ref, "none")),
            *_dropped(attrs),
        ])  # fmt: skip
        health = Text("health             ", style="bold")
        health.append_text(health_text(self, gpu))
        health.append("\nthrottle           ", style="bold")
        health.append_text(throttle_text(self, gpu))
        xid = attrs.get("last_xid")
        if isinstance(xid, dict):
            age = None if store.time is None else store.time - float(xid.get("time") or 0)
            health.append("\nlast XID           ", style="bold")
            health.append(f"{xid.get('code')} ({plain_meaning(xid)}), {fmt_age(age)} ago")
        if attrs.get("remap_pending") or attrs.get("remap_failure"):
            health.append("\nrow remapping      ", style="bold")
            health.append("pending" if attrs.get("remap_pending") else "FAILED")
        self.show_text("identity", identity)
        self.show_text("health", health)
        self.show_text("history", metrics_text(store, gpu.ref, HISTORY_METRICS, 32))
        self.show_text("links", metrics_text(store, gpu.ref, LINK_METRICS, 32))
        self.show_text("errors", metrics_text(store, gpu.ref, ERROR_METRICS, 0))
        self.show_text("findings", findings_text(self, store, gpu.ref))
        self.query_one("#processes", EntityTable).sync(self._processes(attrs.get("processes")))

    def _processes(self, processes: Any) -> Iterable[tuple[str, list[Text]]]:
        for process in processes or ():
            memory = process.get("gpu_mem_mib")
            yield (
                f"pid:{process['pid']}",
                [
                    cell(process["pid"]),
                    cell(process.get("user", "?"), limit=16),
                    cell("n/a" if memory is None else f"{memory / 1024:,.1f} GiB"),
                    cell(fmt(process.get("sm_share"))),
                    cell(process.get("command", "?"), limit=80),
                ],
            )

    def action_kill(self) -> None:
        key = self.query_one("#processes", EntityTable).selected_ref
        if key is None:
            self.notify("no process selected", markup=False)
            return
        pid = int(key.removeprefix("pid:"))
        ref = self.ref or ""
        if not self.context.is_local(ref):
            self.notify(plain(f"{ref} is not on this machine: kill pid {pid} on its own node"),
                        severity="warning", markup=False)  # fmt: skip
            return
        gpu = self.context.store.get(ref)
        processes = (gpu.attrs.get("processes") if gpu else None) or ()
        command = next((p.get("command", "?") for p in processes if p["pid"] == pid), "?")
        action = Action(
            "kill", ref, call=functools.partial(terminate, pid),
            description=f"send SIGTERM to pid {pid} ({command}) on {ref}",
        )  # fmt: skip
        confirm_action(self, self.context, action)

    def action_drain(self) -> None:
        ref = self.ref or ""
        node = node_of(ref)
        if node is None:
            return
        reason = drain_reason(self.context.store, ref)
        confirm_action(self, self.context, slurm_action("drain", node, reason))


def plain_meaning(xid: dict[str, Any]) -> str:
    """The meaning recorded with an XID, as plain text."""
    return cell(xid.get("meaning") or "?", limit=60).plain


def terminate(pid: int, wait: float = 3.0) -> str:
    """SIGTERM a process and say what became of it."""
    process = psutil.Process(pid)
    process.terminate()
    started = time.monotonic()
    try:
        process.wait(timeout=wait)
    except psutil.TimeoutExpired:
        return f"pid {pid} was sent SIGTERM and is still running after {wait:g}s"
    return f"pid {pid} ended after SIGTERM ({time.monotonic() - started:.1f}s)"


def create_gpu_pane(context: PaneContext, ref: str | None) -> PaneBase:
    """The pane factory: the fleet list, or one GPU."""
    return GpuList(context) if ref is None else GpuDetail(context, ref)


def _dropped(attrs: dict[str, Any]) -> list[tuple[str, object]]:
    """The processes an agent had to leave out (it sends 256 per GPU at most)."""
    dropped = attrs.get("processes_dropped")
    if not isinstance(dropped, int) or dropped <= 0:
        return []
    shown = len(attrs.get("processes") or ())
    return [("processes", f"{shown} shown, {dropped:,} more not sent by the agent")]
