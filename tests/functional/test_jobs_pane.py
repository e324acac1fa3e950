"""The jobs pane at fleet size: stalled first, cells only for the rows in view."""

from __future__ import annotations

import pytest

import watchfloor_jobs.pane as jobs_pane
from console.core.model import Batch, Entity
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


async def test_a_job_its_own_pace_shows_stalled_is_listed_first_before_the_findings_land() -> None:
    app = _app(128)
    async with app.run_test(size=(120, 24)) as pilot:
        # A mirror's first cycle: the jobs and their history are drawn before the
        # collector's findings land. The State column said STALLED from the job's own
        # pace while the order, from the findings only, put it among the others by ref.
        store = app.store
        store.findings, store.cycle = [], 0
        early = Entity("job/100", "before 4711 by ref", attrs={"state": "RUNNING"})
        store.apply(Batch([early], time=store.time), "slurm", store.time or 0.0)
        await pilot.press("j")
        table = app.screen.query_one(EntityTable)
        assert table.row_keys[0] == "job/4711"
        assert table.get_row("job/4711")[1].plain == "STALLED"
