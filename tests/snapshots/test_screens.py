"""What the console looks like. Seeded simulator, frozen clock, no user config.

Update after an intended change with ``pytest tests/snapshots --snapshot-update``
and look at the report before committing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from console.ui.app import WatchfloorApp
from console.ui.themes_loader import load_themes

AppFactory = Callable[..., WatchfloorApp]
THEMES = sorted(load_themes().themes)


@pytest.mark.parametrize("theme", THEMES)
def test_overview_in_every_theme(snap_compare, make_app: AppFactory, theme: str) -> None:
    """The overview at 120×40: heat grid with node04's hot GPU, two critical findings
    (stalled job 4711, congested leaf01→spine02 uplink) and a hot-GPU warning, job
    4711 STALLED at 38% pace, the sim source ok. Colours follow the theme."""
    assert snap_compare(make_app(theme=theme), terminal_size=(120, 40))


def test_overview_small_terminal(snap_compare, make_app: AppFactory) -> None:
    """At 80×24 all four panels still show their rows; nothing overlaps."""
    assert snap_compare(make_app(), terminal_size=(80, 24))


def test_job_detail(snap_compare, make_app: AppFactory) -> None:
    """Jobs pane → Enter: job 4711 STALLED -62%, its finding with evidence, and its
    16 ranks around 37% utilisation."""
    assert snap_compare(make_app(), press=["j", "enter"], terminal_size=(120, 40))


def test_link_detail(snap_compare, make_app: AppFactory) -> None:
    """Fabric pane → Enter on the busiest link: leaf01/p4 → spine02 at ~99%, with
    port_xmit_wait and ECN counters climbing on the leaf side."""
    assert snap_compare(make_app(), press=["f", "enter"], terminal_size=(120, 40))


def test_healthy_overview(snap_compare, make_app: AppFactory) -> None:
    """Healthy scenario: no findings, every job RUNNING near 100% pace."""
    assert snap_compare(make_app(scenario="healthy"), terminal_size=(120, 40))


def test_help(snap_compare, make_app: AppFactory) -> None:
    """`?` over the overview lists every key, pane keys included."""
    assert snap_compare(make_app(), press=["question_mark"], terminal_size=(80, 24))


def test_gpu_table_thermal_throttle_small(snap_compare, make_app: AppFactory) -> None:
    """GPU pane at 80×24 under thermal-throttle, sorted by health: node01/3 first, its
    throttle column "sw thermal, hw thermal" in the hot colour, 88° in the temp column."""
    app = make_app(scenario="thermal-throttle")
    assert snap_compare(app, press=["g", "s", "s", "s", "s"], terminal_size=(80, 24))


def test_gpu_detail_throttled_wide(snap_compare, make_app: AppFactory) -> None:
    """GPU detail of node01/3 at 200×60: health ok but throttled by software and
    hardware thermal slowdown, the warning finding with temperature and clock as
    evidence, sparklines, and its one training process."""

    async def open_gpu(pilot) -> None:  # type: ignore[no-untyped-def]
        pilot.app.open("gpu/node01/3")

    app = make_app(scenario="thermal-throttle")
    assert snap_compare(app, run_before=open_gpu, terminal_size=(200, 60))


def test_signature_walk_path_screen(snap_compare, make_app: AppFactory) -> None:
    """Overview, Enter, Enter at 80×24: job 4711's fabric paths hop by hop, the
    leaf01/p4 → spine02 hop at ~100% with port_xmit_wait and marked ◀ HOT, cursor on it."""
    assert snap_compare(make_app(), press=["enter", "enter"], terminal_size=(80, 24))


def test_fabric_pane(snap_compare, make_app: AppFactory) -> None:
    """Fabric pane at 120×40: switches with congested links (leaf01, spine02, leaf03),
    then links by congestion score, the injected uplink first."""
    assert snap_compare(make_app(), press=["f"], terminal_size=(120, 40))


def test_power_pane_small(snap_compare, make_app: AppFactory) -> None:
    """Power pane at 80×24: fleet draw and energy cost, 4 idle GPUs, job 4711 burning money
    over the 3m it has stalled, nodes by draw with a throttled GPU on node04."""
    assert snap_compare(make_app(), press=["p"], terminal_size=(80, 24))


def test_security_pane_rogue_process(snap_compare, make_app: AppFactory) -> None:
    """Security pane at 120×40 on rogue-process: node04 with 1 UNKNOWN GPU process in
    red, the others clean, every node's model files verified; the timeline holds the
    xmrig process on node04 GPU 7."""
    assert snap_compare(make_app(scenario="rogue-process"), press=["s"], terminal_size=(120, 40))


def test_security_pane_small_terminal(snap_compare, make_app: AppFactory) -> None:
    """At 80×24 on tampered-model: the posture table and the changed model file event
    both visible."""
    assert snap_compare(make_app(scenario="tampered-model"), press=["s"], terminal_size=(80, 24))
