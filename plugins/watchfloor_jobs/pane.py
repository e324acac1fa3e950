"""The jobs pane: every job with its pace, and one job with its ranks and findings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from console.api import (
    EntityTable,
    PaneBase,
    PaneContext,
    Store,
    cell,
    confirm_action,
    explain,
    fmt,
    fmt_age,
    job_loss,
    job_state,
    job_state_text,
    jobs_shown_stalled,
    plural,
    slurm_action,
    spark,
    title_bar,
)


def pace(store: Store, ref: str) -> float | None:
    """Throughput now as a fraction of the job's baseline."""
    loss = job_loss(store, ref)
    return None if loss is None else 1.0 - loss


RUNNING_STATES = frozenset({"RUNNING", "COMPLETING"})
"""Scheduler states in which a job's start time means it has been running since."""
NO_REASON = frozenset({"", "None", "(null)"})
"""What Slurm writes in ``state_reason`` when there is no reason."""
MAX_EVIDENCE = 400
"""Characters of a cause's evidence in its row at most: the column takes the room the
others leave (a whole line at 200 columns), cut with an ellipsis where there is less."""


def job_timing(attrs: dict[str, object], now: float | None) -> str:
    """``running 3m`` for a running job; the state and its reason for any other
    (``pending: Resources``), never a running time counted from a start that is
    in the future (pending) or long past (completed)."""
    state = str(attrs.get("state") or "RUNNING")
    reason = attrs.get("reason")
    why = "" if reason is None or str(reason).strip() in NO_REASON else str(reason)
    start = attrs.get("start")
    if state in RUNNING_STATES:
        if isinstance(start, (int, float)) and now is not None and start <= now:
            return f"running {fmt_age(now - start)}"
        return "running"
    return f"{state.lower()}: {cell(why, limit=60).plain}" if why else state.lower()


class JobList(PaneBase):
    """All jobs; stalled ones first."""

    def compose(self) -> ComposeResult:
        yield title_bar("Jobs")
        yield EntityTable(
            self.context, ("Job", "State", "Pace", "Name", "User", "Nodes", "GPUs", "Throughput")
        )

    def refresh_view(self) -> None:
        store = self.context.store
        # Stalled first (as the State column says, the first cycle too), then by ref;
        # cells only for the rows in view.
        stalled = jobs_shown_stalled(store)
        refs = [job.ref for job in store.of_kind("job")]
        refs.sort(key=lambda ref: ref not in stalled)  # stable: by ref within
        self.query_one(EntityTable).sync_keys(refs, self._row)

    def _row(self, ref: str) -> list[Text]:
        store = self.context.store
        job = store.get(ref)
        if job is None:
            return [cell(ref[4:], limit=16)]
        fraction = pace(store, ref)
        unit = job.attrs.get("throughput_unit", "")
        return [
            cell(ref[4:], limit=16),
            job_state_text(self, job_state(store, ref)),
            cell("n/a" if fraction is None else f"{fraction:.0%}"),
            cell(job.name, limit=32),
            cell(job.attrs.get("user", "?"), limit=16),
            cell(len(job.attrs.get("nodes", []))),
            cell(len(job.attrs.get("gpus", []))),
            cell(f"{fmt(store.value(ref, 'job.throughput'))} {unit}"),
        ]


class JobDetail(PaneBase):
    """One job: how it is doing, its suspected causes ranked, and its ranks (GPUs).

    ``Enter`` on a congested-link cause opens the job's fabric paths with that
    link marked; on any other cause, the entity it names. ``r`` requeues, ``h``
    holds, ``u`` releases and ``x`` cancels the job in Slurm: each shows the exact
    command and asks first.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "act('requeue')", "Requeue"),
        Binding("h", "act('hold')", "Hold"),
        Binding("u", "act('release')", "Release"),
        Binding("x", "act('cancel')", "Cancel job"),
    ]

    DEFAULT_CSS = """
    JobDetail > #causes { height: auto; max-height: 12; overflow-x: hidden; }
    JobDetail > #evidence { height: auto; max-height: 8; }
    JobDetail > #ranks { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield title_bar(self.ref or "")
        yield Static(id="summary", classes="pane-body")
        yield title_bar("Suspected causes, most likely first")
        yield EntityTable(self.context, ("#", "Cause", "Kind", "Score", "Evidence"), id="causes",
                          on_open=self._open_cause, fill_last=True)  # fmt: skip
        yield Static(id="evidence", classes="pane-body")
        yield title_bar("Ranks")
        yield EntityTable(self.context, ("GPU", "Util", "History", "Temp", "Power"), id="ranks")

    def action_act(self, verb: str) -> None:
        confirm_action(self, self.context, slurm_action(verb, self.ref or ""))

    def _open_cause(self, ref: str) -> None:
        if ref.startswith("link/") and self.ref:
            self.context.open(f"path/{self.ref.removeprefix('job/')}")
        else:
            self.context.open(ref)

    def refresh_view(self) -> None:
        store = self.context.store
        job = self.shown_entity("summary")
        if job is None:
            return
        fraction = pace(store, job.ref)
        unit = job.attrs.get("throughput_unit", "")
        summary = Text()
        summary.append(cell(job.name, limit=60).plain + "  ", style="bold")
        summary.append_text(job_state_text(self, job_state(store, job.ref)))
        if fraction is not None:
            summary.append(f"  {fraction - 1:+.0%} throughput")
        summary.append("\n")
        summary.append(f"user {cell(job.attrs.get('user', '?')).plain}   ")
        summary.append(job_timing(job.attrs, store.time) + "   ")
        summary.append(plural(len(job.attrs.get("nodes", [])), "node") + "   ")
        summary.append(plural(len(job.attrs.get("gpus", [])), "GPU") + "\n")
        history = store.history(job.ref, "job.throughput")
        summary.append(f"throughput {fmt(store.value(job.ref, 'job.throughput'))} {unit}  ")
        summary.append(spark(history, 30))
        self.show_text("summary", summary)
        explanation = explain(store, job.ref)
        causes = explanation.causes if explanation else []
        table = self.query_one("#causes", EntityTable)
        table.sync(
            (cause.ref, [cell(rank), cell(cause.ref, limit=48), cell(cause.kind),
                         cell(f"{cause.score:.2f}"),
                         cell("; ".join(cause.evidence), limit=MAX_EVIDENCE)])
            for rank, cause in enumerate(causes, 1)
        )  # fmt: skip
        evidence = Text()
        chosen = next((c for c in causes if c.ref == table.selected_ref), None)
        for line in chosen.evidence if chosen else ["no suspect found"]:
            evidence.append("  " + cell(line, limit=160).plain + "\n", style="dim")
        self.show_text("evidence", evidence)
        self.query_one("#ranks", EntityTable).sync(self._ranks(job.attrs.get("gpus", [])))

    def _ranks(self, gpus: list[str]) -> Iterable[tuple[str, list[Text]]]:
        store = self.context.store
        for ref in gpus:
            yield (
                ref,
                [
                    cell(ref[4:], limit=40),
                    cell(fmt(store.value(ref, "gpu.util"), "%")),
                    cell(spark(store.history(ref, "gpu.util"), 16, top=100)),
                    cell(fmt(store.value(ref, "gpu.temp"), "°")),
                    cell(fmt(store.value(ref, "gpu.power"), " W")),
                ],
            )


def create_jobs_pane(context: PaneContext, ref: str | None) -> PaneBase:
    """The pane factory: the list, or one job."""
    return JobList(context) if ref is None else JobDetail(context, ref)
