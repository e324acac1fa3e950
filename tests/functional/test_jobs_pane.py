"""The jobs pane at fleet size: stalled first, cells only for the rows in view."""

from __future__ import annotations

import pytest

import watchfloor_jobs.pane as jobs_pane
from console.ui.kit import EntityTable
from tests.functional.test_overview_groups import _app


async def test_the_jobs_pane_lists_stalled_first_and_builds_only_the_rows_in_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _app(128)
    built: list[str] = []
    pace = jobs_pane.pace

    def counting(store: object, ref: str) -> float | None:
        built.append(ref)
        return pace(store, ref)  # type: ignore[arg-type]

    monkeypatch.setattr(jobs_pane, "pace", counting)
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.press("j")
        table = app.screen.query_one(EntityTable)
        jobs = app.store.count("job")
        assert table.row_count == jobs > 30
        assert table.row_keys[0] == "job/4711"  # the stalled one, though not first by ref
        assert table.get_row("job/4711")[1].plain == "STALLED"
        assert 0 < len(set(built)) <= 24  # a screenful, not every job
