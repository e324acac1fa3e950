"""Widgets and helpers that panes share; plugins reach them through ``console.api``.

Every string that reaches the screen goes through :func:`cell` or ``Text``
(never markup), so a job called ``[red]x`` shows as ``[red]x``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, cast

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color, ColorParseError
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Static

from console.acting.actions import Action
from console.alerting.pager_view import PAGER
from console.api import PaneContext
from console.core.model import METRICS, Entity, Finding, metric_label
from console.core.store import Store
from console.core.text import plain
from console.ui.table import EntityTable

SPARK_CHARS = "▁▂▃▄▅▆▇█"
HEAT_LEVELS = 5
"""Steps of the utilisation heat scale (theme variables ``heat-0`` … ``heat-4``)."""


def cell(value: object, style: str | Style = "", limit: int = 60) -> Text:
    """A table cell from any value, as plain text (never markup)."""
    if isinstance(value, Text):
        return value
    return Text(plain(value, limit), style=style)


def plural(count: int, noun: str) -> str:
    """``1 GPU``, ``2 GPUs``, ``0 GPUs``: a count with its noun (an ``s`` added)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    """A number for a table: ``n/a`` when not available."""
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def fmt_si(value: float | None, unit: str = "") -> str:
    """A number with an SI prefix (``49.7 G``) so big counters stay readable."""
    if value is None:
        return "n/a"
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:,.1f} {prefix}{unit}"
    return f"{value:,.1f} {unit}".rstrip()


def fmt_bytes_rate(value: float | None) -> str:
    """Bytes per second as bits per second with an SI prefix (network convention)."""
    return "n/a" if value is None else fmt_si(value * 8, "b/s")


def fmt_age(seconds: float | None) -> str:
    """A duration as ``42s``, ``3m``, ``2h05m``."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


def spark(values: Sequence[float | None], width: int = 20, top: float | None = None) -> str:
    """A text sparkline of the last ``width`` values (gaps shown as spaces)."""
    if width <= 0:
        return ""
    tail = list(values)[-width:]
    known = [v for v in tail if v is not None]
    if not known:
        return " " * len(tail)
    high = top if top is not None else max(known)
    high = high if high > 0 else 1.0
    chars = []
    for value in tail:
        if value is None:
            chars.append(" ")
        else:
            level = int(min(1.0, max(0.0, value / high)) * (len(SPARK_CHARS) - 1))
            chars.append(SPARK_CHARS[level])
    return "".join(chars)


def heat_level(util: float | None) -> int | None:
    """Which heat step a utilisation falls in (``None`` when not available)."""
    if util is None:
        return None
    return min(HEAT_LEVELS - 1, int(util / 100 * HEAT_LEVELS))


COUNT_UNITS = frozenset({"errors", "rows", "pages", "events", "packets", "frames", ""})
"""Units of whole counts: shown without decimals."""


def metric_line(store: Store, ref: str, metric: str, width: int = 24, name_width: int = 19) -> Text:
    """``gpu.power   612 W  ▂▃▅▇`` — value, unit, and a sparkline of its history."""
    spec = METRICS.get(metric)
    unit = spec.unit if spec else ""
    value = store.value(ref, metric)
    if spec is not None and spec.counter:
        shown = fmt_bytes_rate(value) if unit == "B" else fmt_si(value, f"{unit}/s")
    elif value is not None and abs(value) >= 1e5:
        shown = fmt_si(value, unit)
    else:
        shown = f"{fmt(value, digits=0 if unit in COUNT_UNITS else 1)} {unit}".rstrip()
    text = Text(f"{metric_label(metric):<{name_width}}", style="bold", no_wrap=True)
    text.append(f"{shown:>18}  ")
    text.append(spark(store.history(ref, metric), width))
    return text


VALUE_WIDTH = 20
"""Cells a :func:`metric_line` takes for its value and unit, with the gap after them."""


def _contained(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a pane's ``compose`` or ``on_mount`` so that an exception in it becomes the
    pane's :attr:`PaneBase.failure` (shown in place of the pane) instead of ending the app."""
    if getattr(method, "_contained", False):
        return method
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def compose(self: PaneBase) -> Any:
            try:
                yield from method(self)
            except Exception as exc:
                self.failure = failure_line("compose", exc)
                yield Static(Text(self.failure), classes="pane-failure")

        wrapped: Any = compose
    elif inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def handler_async(self: PaneBase, *args: Any) -> Any:
            try:
                return await method(self, *args)
            except Exception as exc:
                self.failure = failure_line(method.__name__, exc)
                return None

        wrapped = handler_async
    else:

        @functools.wraps(method)
        def handler(self: PaneBase, *args: Any) -> Any:
            try:
                return method(self, *args)
            except Exception as exc:
                self.failure = failure_line(method.__name__, exc)
                return None

        wrapped = handler
    wrapped._contained = True
    return cast(Callable[..., Any], wrapped)


def failure_line(where: str, exc: BaseException) -> str:
    """One plain line saying where a pane failed and why."""
    return plain(f"{where} raised {type(exc).__name__}: {exc}", 300)


def same_text(shown: Text | None, text: Text) -> bool:
    """Whether ``text`` would show as ``shown`` does: Rich's ``==`` compares the
    characters and spans only, not the style of the whole text (a line turned dim, say)
    nor how it is justified and wrapped."""
    return (
        shown is not None
        and shown == text
        and (shown.style, shown.justify, shown.overflow, shown.no_wrap, shown.end)
        == (text.style, text.justify, text.overflow, text.no_wrap, text.end)
    )


class PaneBase(Vertical):
    """Base for a pane: holds the context and the ref it shows; subclasses fill
    :meth:`refresh_view`.

    An exception in a subclass's ``compose`` or ``on_mount`` (or, through the
    screen, in ``refresh_view``) is contained: it becomes :attr:`failure`, the pane
    shows it, and the console goes on.
    """

    DEFAULT_CSS = """
    PaneBase { height: 1fr; }
    PaneBase > .pane-title { height: 1; padding: 0 1; background: $panel; color: $text; }
    PaneBase > EntityTable { height: 1fr; }
    PaneBase > .pane-body { height: auto; padding: 0 1; }
    PaneBase > .pane-failure { height: auto; padding: 1 2; color: $error; }
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("compose", "on_mount"):
            method = cls.__dict__.get(name)
            if method is not None:
                setattr(cls, name, _contained(method))

    def __init__(self, context: PaneContext, ref: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context = context
        """Store, source health, navigation."""
        self.ref = ref
        """The entity shown, or ``None`` for the pane's list view."""
        self.failure = ""
        """Why this pane stopped working ('' while it works); shown in its place."""
        self._texts: dict[str, Text] = {}

    def show_text(self, static_id: str, text: Text) -> None:
        """Show ``text`` in the ``Static`` of this id, unless it shows that already: a
        ``Static`` given new content lays the whole screen out and draws it again (95 ms
        at 1,000 nodes for the security pane's unchanged title, each second)."""
        if not same_text(self._texts.get(static_id), text):
            self._texts[static_id] = text
            self.query_one(f"#{static_id}", Static).update(text)

    def refresh_view(self) -> None:
        """Redraw from the store (called on the refresh tick while visible)."""

    def shown_entity(self, placeholder: str) -> Entity | None:
        """The entity this pane shows; when it is gone, the ``placeholder`` Static says so."""
        entity = self.context.store.get(self.ref or "")
        if entity is None:
            gone = Text(f"{plain(self.ref or '')}: no longer reported", style="dim")
            self.show_text(placeholder, gone)
        return entity

    def set_filter(self, text: str) -> None:
        """Apply the ``/`` filter to every table in the pane."""
        for table in self.query(EntityTable):
            table.filter_text = text
        self.refresh_view()


class DetailPane(PaneBase):
    """One entity shown as text sections in a scroll: subclasses fill :meth:`sections`."""

    SECTIONS: ClassVar[tuple[str, ...]] = ("body",)
    """Section ids, top to bottom."""

    def compose(self) -> ComposeResult:
        yield title_bar(self.ref or "")
        with VerticalScroll():
            for section in self.SECTIONS:
                yield Static(id=section, classes="pane-body")

    def refresh_view(self) -> None:
        entity = self.shown_entity(self.SECTIONS[0])
        if entity is None:
            return
        for section, text in self.sections(entity).items():
            self.show_text(section, text)

    def sections(self, entity: Entity) -> dict[str, Text]:
        """The text of each section for this entity."""
        raise NotImplementedError


def facts_text(pairs: Iterable[tuple[str, object]]) -> Text:
    """``key   value`` lines (values as plain text; lists joined with commas)."""
    text = Text()
    for key, value in pairs:
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        text.append(f"{key:<19}", style="bold")
        text.append(plain(shown if shown is not None else "n/a", 160) + "\n")
    return text


def metrics_text(
    store: Store, ref: str, metrics: Iterable[str], width: int = 24, fit: int | None = None
) -> Text:
    """One :func:`metric_line` per metric, labels aligned.

    ``fit``: the cells the lines have (the pane's width); sparklines shrink so that
    each line stays one line, never wrapping onto the next.
    """
    text = Text(no_wrap=True)
    names = list(metrics)
    name_width = max((len(metric_label(name)) for name in names), default=0) + 2
    if fit is not None:
        width = max(0, min(width, fit - name_width - VALUE_WIDTH))
    for metric in names:
        text.append_text(metric_line(store, ref, metric, width, name_width))
        text.append("\n")
    return text


def title_bar(text: str) -> Static:
    """A one-line section title."""
    return Static(Text(plain(text)), classes="pane-title")


def role_style(widget: Widget, role: str, bold: bool = False) -> Style:
    """A Rich style in the colour of a theme variable (``gpu-hot``, ``error``).

    Rich text cannot read CSS variables, so table cells resolve them here; every
    theme (the ANSI one included) still decides the colour.
    """
    return _style_for(widget.app.theme_variables.get(role), bold)


@functools.lru_cache(maxsize=256)
def _style_for(value: str | None, bold: bool) -> Style:
    # Parsing a colour is slow next to a dict lookup, and tables ask per cell.
    if not value:
        return Style(bold=bold)
    try:
        return Style(color=Color.parse(value).rich_color, bold=bold)
    except ColorParseError:
        return Style(bold=bold)


STATE_ROLE = {"STALLED": "error", "RUNNING": "ok", "FAILED": "error", "PENDING": "stale",
              "MEASURING": "stale"}  # fmt: skip
"""Theme variable that colours each job state."""
SEVERITY_ROLE = {"critical": "error", "warning": "warning", "info": "primary"}
"""Theme variable that colours each finding severity."""
SEVERITY_MARK = {"critical": "✖", "warning": "▲", "info": "●"}
"""Severity is shown by symbol and word as well as colour."""


def severity_text(widget: Widget, severity: str) -> Text:
    """``✖ CRITICAL`` in the theme's colour for that severity."""
    return Text(
        f"{SEVERITY_MARK.get(severity, '?')} {severity.upper()}",
        style=role_style(widget, SEVERITY_ROLE.get(severity, "foreground"), bold=True),
    )


def job_state_text(widget: Widget, state: str) -> Text:
    """A job state in its colour (bold when it needs attention)."""
    role = STATE_ROLE.get(state, "foreground")
    return Text(state, style=role_style(widget, role, bold=role == "error"))


PAGE_GLYPH = {"paged": "⚑", "silenced": "⚐"}
"""Before a finding's title: it paged (or paged and is silenced); the word follows it."""


def finding_title(widget: Widget, finding: Finding, limit: int = 120) -> Text:
    """A finding's title; ``⚑ … · paged`` / ``⚐ … · silenced`` when the pager has it (the
    glyph first, so an 80-column screen shows it even when the title is cut)."""
    state = PAGER.state(finding.kind, finding.ref) if PAGER.enabled else None
    if state is None:
        return cell(finding.title, limit=limit)
    word = state.label()
    style = role_style(widget, "stale" if state.silenced_by else "warning")
    text = Text(f"{PAGE_GLYPH[word]} ", style=style)
    text.append_text(cell(finding.title, limit=limit))
    text.append(f" · {word}", style=style)
    return text


def findings_text(widget: Widget, store: Store, ref: str) -> Text:
    """The findings about one entity, with their evidence (and whether they paged)."""
    text = Text()
    for finding in store.iter_findings(ref):
        text.append_text(severity_text(widget, finding.severity))
        text.append(" ")
        text.append_text(finding_title(widget, finding, limit=400))
        text.append("\n")
        for line in finding.evidence:
            text.append("    " + plain(line) + "\n", style="dim")
    if not text.plain:
        text.append("findings pending" if store.findings_pending else "no findings", style="dim")
    return text


class ConfirmScreen(ModalScreen[bool]):
    """Asks before a dangerous action: ``y`` does it, ``n`` or ``Esc`` does not."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Static {
        width: 64; max-width: 100%; height: auto; padding: 1 2;
        border: thick $error; background: $surface;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question
        """What will happen, in words."""

    def compose(self) -> ComposeResult:
        text = Text("Dangerous action\n\n", style="bold")
        text.append(plain(self.question, 300))
        text.append("\n\ny: do it    n / Esc: cancel", style="bold")
        yield Static(text)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def confirm_dangerous(
    widget: Widget, context: PaneContext, question: str, action: Callable[[], str]
) -> None:
    """Run ``action`` after the user confirms; never in read-only mode.

    ``action`` returns a line saying what happened, shown as a notification. It
    goes through :func:`confirm_action` (in a thread, audited); a plugin that
    knows its target and verb should call that with an :class:`Action`.
    """
    confirm_action(widget, context, Action("run", "", call=action, description=question))


def action_question(action: Action) -> Text:
    """What the confirmation shows: the verb, the target, exactly what runs, the reason."""
    text = Text()
    text.append(f"{action.verb} ", style="bold")
    text.append(plain(action.target, 120) + "\n\n")
    text.append("runs:   ", style="bold")
    text.append(plain(action.shown, 400) + "\n")
    if action.reason:
        text.append("reason: ", style="bold")
        text.append(plain(action.reason, 200) + "\n")
    return text


class ActionScreen(ModalScreen["Action | None"]):
    """Asks before a console action, showing exactly what will be run and on what.

    ``y`` runs it, ``n`` or ``Esc`` does not. An action with a reason (drain)
    offers the reason for editing: the command shown follows every keystroke,
    ``Enter`` runs it with that reason.
    """

    DEFAULT_CSS = """
    ActionScreen { align: center middle; }
    ActionScreen > Vertical {
        width: 76; max-width: 100%; height: auto; padding: 1 2;
        border: thick $error; background: $surface;
    }
    ActionScreen Static { height: auto; }
    ActionScreen Input { margin: 1 0 0 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, action: Action) -> None:
        super().__init__()
        self.action_to_run = action
        """What ``y`` (or ``Enter`` on the reason) runs: follows the edited reason."""

    def compose(self) -> ComposeResult:
        editable = self.action_to_run.with_reason is not None
        with Vertical():
            yield Static(self._question(), id="question")
            if editable:
                yield Input(self.action_to_run.reason, placeholder="reason", id="reason")
            hint = "Enter: run with this reason    Esc: cancel" if editable else (
                "y: run it    n / Esc: cancel")  # fmt: skip
            yield Static(Text(hint, style="bold"))

    def _question(self) -> Text:
        text = Text("Confirm action\n\n", style="bold")
        text.append_text(action_question(self.action_to_run))
        return text

    def on_input_changed(self, event: Input.Changed) -> None:
        rebuild = self.action_to_run.with_reason
        if rebuild is not None:
            self.action_to_run = rebuild(event.value)
            self.query_one("#question", Static).update(self._question())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self.action_to_run)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(self.action_to_run if yes else None)


def confirm_action(widget: Widget, context: PaneContext, action: Action) -> None:
    """Show ``action`` (exactly what runs, on what), ask, then run it off the UI's loop.

    Refused at once (with a message) under ``--read-only`` or ``actions:
    {enabled: false}``; every attempt, refused, declined, done or failed, is
    written to the audit log; a failure shows the command's own error line.
    """
    app = widget.app
    actions = context.actions
    label = (
        f"{action.verb} {plain(action.target, 80)}" if action.target else plain(action.shown, 80)
    )

    async def perform(chosen: Action, told: bool = False) -> None:
        outcome = await actions.perform(chosen)
        if outcome.status == "refused" and not told:  # the audit log cannot be written
            app.notify(f"{label} refused: {plain(outcome.message, 300)}", severity="error",
                       markup=False, timeout=15)  # fmt: skip
        elif outcome.ok:
            said = f": {plain(outcome.message, 200)}" if outcome.message else ""
            app.notify(f"{label}: done{said}", markup=False)
        elif outcome.status == "failed":
            app.notify(f"{label} failed: {plain(outcome.message, 300)}", severity="error",
                       markup=False, timeout=15)  # fmt: skip

    refused = actions.refusal()
    if refused is not None:
        app.notify(f"{refused}. Not run: {plain(action.shown, 200)}", severity="warning",
                   markup=False, timeout=10)  # fmt: skip
        app.run_worker(perform(action, told=True), group="actions", exit_on_error=False)
        return

    def answered(chosen: Action | None) -> None:
        if chosen is None:
            app.notify(f"cancelled: {label} not run", markup=False)
            app.run_worker(actions.declined(action), group="actions", exit_on_error=False)
            return
        app.notify(f"running: {plain(chosen.shown, 200)}", markup=False)
        app.run_worker(perform(chosen), group="actions", exit_on_error=False)

    app.push_screen(ActionScreen(action), answered)
