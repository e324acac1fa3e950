"""A plugin whose pane takes 80 ms to draw: over the refresh budget every time."""

from __future__ import annotations

import time

from console.api import Pane, PaneBase, PaneContext, Plugin

DRAW_SECONDS = 0.08
"""What each refresh_view costs (the budget is 0.05 s)."""


class SlowPane(PaneBase):
    refreshes = 0

    def refresh_view(self) -> None:
        type(self).refreshes += 1
        time.sleep(DRAW_SECONDS)  # stands in for heavy work on the UI thread


def create(context: PaneContext, ref: str | None) -> PaneBase:
    return SlowPane(context, ref)


plugin = Plugin(name="slowpane", version="1.0", panes=(Pane("slow", "Slow", create, key="x"),))
