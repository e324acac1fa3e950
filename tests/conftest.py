"""Shared fixtures: a seeded simulator, a frozen clock, the real plugin registry."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from console.core.config import Config
from console.core.plugins import discover
from console.core.runtime import DemoOptions, build_sources, load_registry
from console.sim.cluster import EPOCH
from console.ui.app import WatchfloorApp

if TYPE_CHECKING:
    from tests.slurm_cluster import SlurmCluster

# Snapshot frames show a clock: keep it in one zone whatever the machine says.
os.environ["TZ"] = "UTC"
time.tzset()
# Consoles started by tests (and their children) record here, never into the user's
# state directory, and two test runs at once never share a recording.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="watchfloor-test-state-")

FROZEN_NOW = EPOCH + 2.0
"""The frozen wall clock every UI test uses."""
FIXTURES = Path(__file__).resolve().parent / "fixtures"
"""Real data from other projects (see fixtures/README.md)."""


def frozen_clock() -> float:
    return FROZEN_NOW


@pytest.fixture
def make_app() -> Callable[..., WatchfloorApp]:
    """Build a non-live app on the seeded simulator (deterministic frames)."""

    def factory(
        scenario: str = "congested-link", theme: str | None = None, seed: int = 1, **kw: object
    ) -> WatchfloorApp:
        # Only watchfloor's own plugins: one installed in the developer's venv must
        # not change what the snapshots show.
        registry = load_registry([r for r in discover() if r.distribution == "watchfloor"])
        sources = build_sources(Config(), registry, DemoOptions(scenario, seed, 4), local=False)
        clock = kw.pop("clock", frozen_clock)
        return WatchfloorApp(registry, sources, theme_name=theme, live=False, clock=clock, **kw)

    return factory


PLUGIN_PACKAGES = Path(__file__).resolve().parent / "plugin_packages"
FAULTY_PLUGINS = {
    "broken": ("wf-broken-import", "wf_broken_import:plugin"),
    "hanging": ("wf-hanging-source", "wf_hanging_source:plugin"),
    "oldapi": ("wf-old-api", "wf_old_api:plugin"),
    "invalid": ("wf-invalid-plugin", "wf_invalid_plugin:plugin"),
    "raising": ("wf-raising-source", "wf_raising_source:plugin"),
    "baddata": ("wf-bad-data", "wf_bad_data:plugin"),
    "brokenpane": ("wf-broken-pane", "wf_broken_pane:plugin"),
    "slowpane": ("wf-slow-pane", "wf_slow_pane:plugin"),
}
"""Entry-point name → (distribution, entry point) of each faulty test plugin."""


@pytest.fixture
def faulty_plugin_site(tmp_path: Path) -> Path:
    """A site directory holding the faulty plugins as installed distributions."""
    import shutil

    site = tmp_path / "site"
    site.mkdir()
    for name, (dist, target) in FAULTY_PLUGINS.items():
        package = target.split(":")[0]
        shutil.copytree(PLUGIN_PACKAGES / package, site / package)
        info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[watchfloor.plugins]\n{name} = {target}\n")
    return site


@pytest.fixture
def with_faulty_plugins(faulty_plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The faulty plugins importable in this process."""
    import importlib

    monkeypatch.syspath_prepend(str(faulty_plugin_site))
    importlib.invalidate_caches()
    return faulty_plugin_site


EXAMPLE_PDU = Path(__file__).resolve().parents[1] / "examples" / "watchfloor-pdu"
"""The example third-party plugin (its own distribution, under examples/)."""


def dist_info_for(project: Path, site: Path) -> Path:
    """Write ``site/<name>-<version>.dist-info`` for the project at ``project`` (its
    name, version and entry points from its pyproject.toml), as pip would; with
    ``site`` and ``project`` on the path, discovery finds it as installed."""
    import tomllib

    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    name, version = meta["name"], meta["version"]
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    groups = meta.get("entry-points", {})
    lines = [f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items())
             for group, items in groups.items()]  # fmt: skip
    (info / "entry_points.txt").write_text("\n".join(lines))
    return info


@pytest.fixture
def with_example_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/watchfloor-pdu importable and discoverable in this process, as if
    pip-installed; returns the site directory holding its dist-info."""
    import importlib

    site = tmp_path / "example-site"
    dist_info_for(EXAMPLE_PDU, site)
    monkeypatch.syspath_prepend(str(EXAMPLE_PDU))
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    return site


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A real Slurm 22.05 cluster for the session: munged on its own socket, slurmctld,
    and slurmd for two node names (gpu01, gpu02, 8 GPUs each) on free ports.

    Every daemon is stopped by its pid at the end (jobs cancelled first)."""
    from tests.slurm_cluster import missing, start_cluster

    why = missing()
    if why is not None:
        pytest.skip(why)
    cluster = start_cluster(["gpu01", "gpu02"])
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def slurm(slurm_cluster: SlurmCluster, monkeypatch: pytest.MonkeyPatch) -> SlurmCluster:
    """The session's cluster with no jobs and every node idle; Slurm's commands in this
    process (and its children) reach it through ``SLURM_CONF``."""
    slurm_cluster.cancel_all()
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.conf))
    return slurm_cluster


@pytest.fixture(autouse=True)
def private_state_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``$XDG_STATE_HOME`` in a temporary folder: a test never writes the user's audit log."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
