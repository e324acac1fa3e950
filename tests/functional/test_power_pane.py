"""The power pane: money burned by a stalled job grows, capped GPUs stand out."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from console.core.store import Store
from console.ui.app import WatchfloorApp
from console.ui.kit import EntityTable

AppFactory = Callable[..., WatchfloorApp]


def _summary(app: WatchfloorApp) -> str:
    return str(app.screen.query_one("#summary").render())


async def test_stalled_job_waste_grows_while_it_stays_stalled(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        first = _summary(app)
        assert "stalled job/4711: 16 GPUs" in first and "4 idle GPUs" in first
        burned = float(first.split("USD/h, ")[-1].split(" USD burned")[0])
        await app.engine.collect(20)  # twenty more seconds, still stalled
        app.screen.redraw()  # type: ignore[attr-defined]
        later = float(_summary(app).split("USD/h, ")[-1].split(" USD burned")[0])
        assert later > burned
        table = app.screen.query_one(EntityTable)
        assert table.selected_ref == "rack:rack01"
        await pilot.press("down")
        assert table.selected_ref == "node/node02"  # the biggest draw first within its rack
        await pilot.press("up", "enter")  # fold the rack
        assert table.row_count == 1
        await pilot.press("enter", "down", "enter")  # unfold, open the node
        assert app.crumbs() == ["Overview", "Power", "node/node02"]


async def test_power_capped_gpus_stand_out(make_app: AppFactory) -> None:
    app = make_app(scenario="power-cap")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        summary = _summary(app)
        assert "slowed by power or heat: 4 GPUs (node01/0 1s, node01/1 1s" in summary
        await app.engine.collect(61)
        app.screen.redraw()  # type: ignore[attr-defined]
        assert "node01/0 1m" in _summary(app)  # how long each has been held
        row = app.screen.query_one(EntityTable).get_row("node/node01")
        gpus = [f"gpu/node01/{i}" for i in range(8)]
        limit = sum(app.store.value(g, "gpu.power_limit") or 0 for g in gpus)
        assert limit == 4 * 400 + 4 * 700  # the capped GPUs' lower limit counts
        draw = sum(app.store.value(g, "gpu.power") or 0 for g in gpus)
        assert row[2].plain == f"{draw / limit:.0%}"


async def test_opening_the_power_pane_reads_node_totals_not_every_gpu(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    read: list[str] = []
    value = Store.value

    def counting(store: Store, ref: str, metric: str) -> float | None:
        read.append(metric)
        return value(store, ref, metric)

    async with app.run_test(size=(120, 40)) as pilot:
        monkeypatch.setattr(Store, "value", counting)
        await pilot.press("p")
        assert app.crumbs() == ["Overview", "Power"]
    # Each GPU's limit and energy used to be read on every refresh; the store's totals
    # stand for them now (a node row in view still reads its GPUs' power history).
    assert read.count("gpu.power_limit") == 0 and read.count("gpu.energy_today") == 0
    assert app.store.gpu_total("node/node01", "gpu.power_limit") == sum(
        value(app.store, f"gpu/node01/{i}", "gpu.power_limit") or 0.0 for i in range(8)
    )


async def test_a_fleet_s_many_jobs_get_a_few_lines_the_costliest_first(
    make_app: AppFactory,
) -> None:
    from console.api import Batch, Entity, Sample

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        gpu = "gpu/node02/0"
        serving = {"throughput_unit": "tokens/s", "gpus": [gpu]}
        jobs = [Entity(f"job/{9000 + i}", f"serve-{i}", None, serving) for i in range(20)]
        rates = [Sample(job.ref, "job.throughput", 10.0 + i) for i, job in enumerate(jobs)]
        app.store.apply(Batch(entities=jobs, samples=rates), "sim", app.store.time or 0.0)
        app.screen.redraw()  # type: ignore[attr-defined]
        summary = _summary(app)
        listed = [line for line in summary.splitlines() if line.startswith("inference ")]
        # The fewest tokens for the same GPU: the dearest per token, listed first.
        assert [line.split(":")[0] for line in listed] == [
            "inference job/9000", "inference job/9001", "inference job/9002"
        ]  # fmt: skip
        assert "… 18 more inference jobs (j lists every job)" in summary  # 20 and job/4713
        assert "Racks and nodes by draw" in app.export_screenshot().replace("&#160;", " ")
