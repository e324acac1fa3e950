"""Screens: one per place the user can be. ``Enter`` pushes, ``Esc`` pops."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static
from textual.widgets._footer import FooterKey

from console.collector.gate import INPUT_GATE
from console.ui.chrome import Breadcrumbs, PluginBanner, StatusHeader
from console.ui.guard import FailedPane, failure_text
from console.ui.kit import PaneBase, failure_line

if TYPE_CHECKING:
    from console.ui.app import WatchfloorApp


class FitFooter(Footer):
    """The key footer, showing whole keys only: a key that would be cut at the right
    edge (``p Powe``) is left out (``?`` lists every key).

    Composed again only when the keys it shows change: Textual's footer recomposes at
    each focus change and screen switch, and its keys cost a style pass each, which was
    a fifth of the time between ``Esc`` and the overview drawn."""

    _composed: tuple[object, ...] | None = None

    def _shown(self) -> tuple[object, ...]:
        """What the keys it would show now are made of."""
        return tuple(
            (binding.key, binding.description, binding.action, enabled, binding.show)
            for _, binding, enabled, _ in self.screen.active_bindings.values()
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        if screen is not self.app.screen:
            if not self._bindings_ready and screen is self.screen:
                # Built ahead, off screen (a prepared pane), its focus just set: its
                # keys are composed now, not at the first press of its key (Textual's
                # footer waits for its screen to show, then mounts every key).
                self._bindings_ready = True
                self.call_later(self.recompose)
            return  # in the background (or popped): looked at again when it is resumed
        if self._composed is not None and self._shown() == self._composed:
            return
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        children = list(super().compose())
        if self._bindings_ready:
            self._composed = self._shown()
        width = self.size.width or self.app.size.width
        self._fitted_width = width  # its first resize then composes it no second time
        keys = [c for c in children if isinstance(c, FooterKey)]
        for key in keys:
            if not key.has_class("-command-palette"):  # that one keeps its own look
                # Born with the footer's look (a key bound to it starts compact and is
                # then told it is not), so mounting it costs no second style pass.
                key.set_reactive(FooterKey.compact, self.compact)
        palette = sum(_key_width(k) + 2 for k in keys if k.has_class("-command-palette"))
        used = 0
        for key in keys:
            if key.has_class("-command-palette"):
                continue
            used += _key_width(key)
            key.display = used <= width - palette
        yield from children

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != getattr(self, "_fitted_width", None):
            self._fitted_width = event.size.width
            self.call_later(self.recompose)


def _key_width(key: FooterKey) -> int:
    """Cells a footer key takes: `` k `` and ``description `` (Textual's padding)."""
    description = cell_len(key.description) + 1 if key.description else 0
    return cell_len(key.key_display) + 2 + description


class FilterInput(Input):
    """The ``/`` filter line: hidden until asked for."""

    DEFAULT_CSS = """
    FilterInput { dock: bottom; height: 1; border: none; padding: 0 1; display: none; }
    FilterInput.-active { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Clear filter")]

    def __init__(self) -> None:
        # Disabled while hidden, so it can never hold the focus unseen.
        super().__init__(placeholder="filter rows…", disabled=True)

    def open(self) -> None:
        """Show the line and type into it."""
        self.disabled = False
        self.add_class("-active")
        self.focus()

    def action_close(self) -> None:
        self.value = ""
        self.remove_class("-active")
        self.disabled = True
        self.screen.focus_next()


class ViewScreen(Screen[None]):
    """A screen that shows one pane with the header, breadcrumbs and footer around it."""

    AUTO_FOCUS = "EntityTable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter", key_display="/"),
    ]

    def __init__(
        self, pane: PaneBase, crumb: str, view: str | None = None, plugin: str | None = None
    ) -> None:
        super().__init__()
        self.pane = pane
        """The body."""
        self.crumb = crumb
        """This screen's part of the breadcrumbs."""
        self.view = view or type(pane).__name__
        """Which pane this is, for its refresh timings (a plugin's pane id)."""
        self.plugin = plugin
        """The plugin whose pane this is; ``None`` for the console's own views."""
        self.rendered_version = -1
        """Store version last drawn, so an unchanged store costs nothing."""
        self._failure_shown = ""
        self._styled_with: tuple[object, frozenset[str]] = (None, frozenset())
        """The app's CSS rules and pseudo-classes this screen's styles were last worked
        out with (:meth:`_styling`)."""

    @property
    def watchfloor(self) -> WatchfloorApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.watchfloor, self.watchfloor.title)
        yield Breadcrumbs()
        yield PluginBanner()
        yield self.pane
        yield FilterInput()
        yield FitFooter()

    def on_mount(self) -> None:
        self._styled_with = self._styling()  # its widgets were styled as mounted
        self.redraw(force=True)
        if self.app.screen is self:
            self.call_after_refresh(INPUT_GATE.drawn)  # the key that opened this is answered
        else:  # built ahead (a prepared pane): no key's answer, whatever key is pending
            self.call_after_refresh(self.warm)  # once its widgets have mounted

    def warm(self) -> None:
        """Lay out and draw this screen built ahead, off screen (nothing is shown): its
        first showing then finds its widgets laid out and their lines drawn, as a second
        showing does (laying out and drawing were half of its key's first press; this
        takes one step of the event loop, at a quiet moment)."""
        stack = self.app.screen_stack  # (empty while the app closes: a deferred warm)
        if not self.is_attached or not stack or stack[-1] is self:
            return
        if not INPUT_GATE.is_open():  # a key came meanwhile: it goes first, this later
            self.set_timer(INPUT_GATE.quiet, self.warm)
            return
        self._refresh_layout(self.app.size)
        self._compositor.render_update(full=True)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Back here (Esc): the screen shows at once as it was last drawn, with the
        # breadcrumbs of where it is now; the pane catches up with the store right
        # after that frame is painted (the overview of a thousand nodes costs a refresh).
        styling = self._styling()
        if styling[0] is self._styled_with[0] and styling[1] == self._styled_with[1]:
            # Pushed again (a kept pane): Textual works out every widget's styles anew
            # (a fifth of the key's time), for CSS that may have changed meanwhile. It
            # did not: a theme or a new widget class's CSS makes a new list of rules,
            # and the app's focus or colour mode changes its pseudo-classes.
            event.refresh_styles = False
        elif event.refresh_styles:
            self._styled_with = styling  # styled anew by Textual's handler, right after this
        self._redraw_chrome()
        self.call_after_refresh(self._catch_up)

    def _styling(self) -> tuple[object, frozenset[str]]:
        """What this screen's styles depend on beyond its own widgets: the app's CSS
        rules (compared by identity) and its pseudo-classes (``:blur``, ``:ansi``...),
        which Textual applies to the current screen only when they change."""
        return self.app.stylesheet.rules, frozenset(self.app.get_pseudo_classes())

    def _catch_up(self) -> None:
        if self.app.screen is self:  # not left (or gone) meanwhile: keys come fast
            if self.rendered_version != self.watchfloor.store.version:
                # (unmoved, e.g. a screen drawn just now by its mount: no second refresh)
                self.redraw(force=True)
            self.call_after_refresh(INPUT_GATE.drawn)

    def _redraw_chrome(self) -> None:
        app = self.watchfloor
        self.query_one(StatusHeader).update_status()
        self.query_one(Breadcrumbs).show(app.crumbs())
        if self.plugin is not None:
            self.query_one(PluginBanner).show(app.plugin_health_line(self.plugin))

    def redraw(self, force: bool = False) -> None:
        """Refresh the chrome always, and the pane when the store moved (timed; a
        slow pane less often; a failed one never again)."""
        app = self.watchfloor
        self._redraw_chrome()
        if self.pane.failure or not (force or app.store.version != self.rendered_version):
            self._show_failure()
            return
        health = app.pane_health(self.view, self.plugin)
        started = time.perf_counter()
        if not force and not health.may_refresh(started):
            return  # a slow pane waits its turn; the store version stays unseen
        try:
            self.pane.refresh_view()
        except Exception as exc:  # a failing pane shows its error, the console goes on
            self.pane.failure = failure_line("refresh_view", exc)
            self._show_failure()
            return
        elapsed = time.perf_counter() - started
        self.rendered_version = app.store.version
        if health.record(started, elapsed, counted=not force):
            app.pane_became_slow(health)

    def _show_failure(self) -> None:
        """Once per failure: tell the app, and show why in place of the pane's content
        (a failed pane is not refreshed again; opening it anew retries)."""
        reason = self.pane.failure
        if not reason or reason == self._failure_shown:
            return
        self._failure_shown = reason
        self.watchfloor.pane_failed(self.view, self.plugin, reason)
        if not isinstance(self.pane, FailedPane):  # that one says it already
            self.pane.remove_children()
            self.pane.mount(Static(failure_text(self.crumb, reason), classes="pane-failure"))

    def action_back(self) -> None:
        filter_input = self.query_one(FilterInput)
        if filter_input.value:
            filter_input.action_close()
            return
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        elif self.watchfloor.rewind_at is not None:
            self.watchfloor.action_live()  # Esc at the top: back to live

    def action_filter(self) -> None:
        self.query_one(FilterInput).open()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.pane.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.focus_next()


class HelpScreen(ModalScreen[None]):
    """``?``: every key, in one place."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 64; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys
        """(key, what it does) rows."""

    def compose(self) -> ComposeResult:
        text = Text("Keys\n\n", style="bold")
        for key, description in self.keys:
            text.append(f"  {key:<12}", style="bold")
            text.append(description + "\n")
        with VerticalScroll():
            yield Static(text)
