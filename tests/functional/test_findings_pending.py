"""A console whose collector sent its fleet before analysing it (a large fleet's first
frame) says its findings are pending: none is not a verdict yet."""

from __future__ import annotations

from collections.abc import Callable

from console.ui.app import WatchfloorApp
from console.ui.kit import findings_text
from console.ui.overview import OverviewPane

AppFactory = Callable[..., WatchfloorApp]


async def test_findings_pending_are_not_shown_as_none(make_app: AppFactory) -> None:
    app = make_app("healthy")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        overview = app.screen.query_one(OverviewPane)
        panel = app.screen.query_one("#panel-findings")
        app.store.findings = []
        app.store.findings_pending = True
        overview.refresh_view()
        assert panel.border_title == "Findings (pending)"
        assert findings_text(overview, app.store, "node/node01").plain == "findings pending"
        app.store.findings_pending = False  # analysed: none is a verdict now
        overview.refresh_view()
        assert panel.border_title == "Findings (0)"
        assert findings_text(overview, app.store, "node/node01").plain == "no findings"
