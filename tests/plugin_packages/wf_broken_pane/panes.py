"""The failing panes (Textual is imported here, as a real plugin's pane module would)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from console.api import PaneBase


class ComposeFails(PaneBase):
    def compose(self) -> ComposeResult:
        yield Static("half a pane")
        raise KeyError("rack_id")


class RenderFails(PaneBase):
    def compose(self) -> ComposeResult:
        yield Static("rows go here", id="rows")

    def refresh_view(self) -> None:
        raise ZeroDivisionError("no PDUs to average over")


class CssFails(PaneBase):
    DEFAULT_CSS = """
    CssFails { color: $pdu-overload; }
    """


class MountFails(PaneBase):
    def compose(self) -> ComposeResult:
        yield Static("rows go here")

    def on_mount(self) -> None:
        raise PermissionError("/dev/ipmi0")
