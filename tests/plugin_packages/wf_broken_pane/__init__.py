"""A plugin whose panes fail in each way a pane can: in ``create``, in ``compose``,
in ``on_mount``, in ``refresh_view``, with CSS that names an undeclared theme
variable, and by not being a pane at all."""

from __future__ import annotations

from typing import Any

from console.api import Pane, PaneContext, Plugin, lazy


def create_fails(context: PaneContext, ref: str | None) -> Any:
    raise ConnectionError("cannot reach the licence server")


plugin = Plugin(
    name="brokenpane",
    version="1.0",
    panes=(
        Pane("create-fails", "Create fails", create_fails),
        Pane("compose-fails", "Compose fails", lazy("wf_broken_pane.panes:ComposeFails")),
        Pane("render-fails", "Render fails", lazy("wf_broken_pane.panes:RenderFails")),
        Pane("mount-fails", "Mount fails", lazy("wf_broken_pane.panes:MountFails")),
        Pane("css-fails", "CSS fails", lazy("wf_broken_pane.panes:CssFails")),
        Pane("not-a-pane", "Not a pane", lambda context, ref: object()),
    ),
)
