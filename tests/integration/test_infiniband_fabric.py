"""``type: infiniband`` against a real simulated fabric: ibsim + opensm + infiniband-diags.

One fabric per module (opensm takes a few seconds to sweep): 2 spines, 2 leaves,
2 hosts a leaf, hosts named ``gpuNN mlx5_0`` and ``gpuNN HCA-1``. Tests that change
the fabric (counters, Unlink) put it back before they end.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console.analysis.causes import explain
from console.core.engine import Engine
from console.core.model import Finding
from console.core.runtime import build_engine, build_sources, load_registry, read_config
from tests.integration.ibsim import SimFabric, leaf_spine_net, start_fabric

LEAVES, SPINES, HOSTS_PER_LEAF = 2, 2, 2
HOSTS = [f"gpu{i:02d}" for i in range(1, LEAVES * HOSTS_PER_LEAF + 1)]
UPLINK = "link/leaf01/3~spine01/1"
"""leaf01's port 3 (after its two hosts) goes up to spine01's port 1."""


@pytest.fixture(scope="module")
def fabric(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimFabric]:
    sim = start_fabric(
        tmp_path_factory.mktemp("ibsim"),
        leaf_spine_net(LEAVES, SPINES, HOSTS_PER_LEAF, unnamed=True),
    )
    try:
        yield sim
    finally:
        sim.stop()


def write_config(
    fabric: SimFabric, directory: Path, jobs: bool = False, interval: float = 1.0
) -> Path:
    lines = [
        f"interval: {interval}",
        "sources:",
        "  - type: infiniband",
        f"    ibnetdiscover: {fabric.bin / 'ibnetdiscover'}",
        f"    perfquery: {fabric.bin / 'perfquery'}",
        f"    interval: {interval}",
        "    timeout: 20",
    ]
    if jobs:
        (directory / "jobs.yaml").write_text(
            "- {id: 4711, name: allreduce, nodes: [gpu01, gpu03], gpus_per_node: 0}\n"
        )
        lines += ["  - type: jobs-file", "    path: jobs.yaml"]
    path = directory / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_snapshot_lists_every_link_switch_and_host_port(fabric: SimFabric, tmp_path: Path) -> None:
    config = write_config(fabric, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "console.cli", "snapshot", "--config", str(config),
         "--format", "json"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**fabric.env, "XDG_CONFIG_HOME": "/nonexistent"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    source = next(s for s in document["sources"] if s["type"] == "infiniband")
    assert source["status"] == "ok", source
    # the HCA no name places is listed in the source's status, not guessed onto a host
    assert source["reason"].startswith("1 HCA(s) on no known host: 'MT4129 ConnectX7"), source
    switches = {s["ref"] for s in document["switches"]}
    assert switches == {"switch/leaf01", "switch/leaf02", "switch/spine01", "switch/spine02"}
    links = {link["ref"]: link for link in document["links"]}
    # every cable of the net file, host end first, switch-to-switch by name
    expected = {UPLINK, "link/leaf01/4~spine02/1", "link/leaf02/3~spine01/2",
                "link/leaf02/4~spine02/2",
                "link/gpu01/mlx5_0:1~leaf01/1", "link/gpu02/HCA-1:1~leaf01/2",
                "link/gpu03/mlx5_0:1~leaf02/1", "link/gpu04/HCA-1:1~leaf02/2"}  # fmt: skip
    unplaced = {ref for ref in links if ref.startswith("link/ca-0x")}
    assert len(unplaced) == 1 and next(iter(unplaced)).endswith("~leaf02/5")
    assert set(links) - unplaced == expected
    for link in links.values():
        assert link["speed_gbps"] == 10.0  # ibsim's 4x SDR
        assert link["a"].startswith("port/") and link["b"].startswith("port/")
    ports = {p["ref"]: p for p in document["ports"]}
    assert ports["port/gpu01/mlx5_0:1"]["parent"] == "node/gpu01"
    assert ports["port/gpu02/HCA-1:1"]["parent"] == "node/gpu02"
    assert ports["port/leaf01/3"]["parent"] == "switch/leaf01"
    assert {n["ref"] for n in document["nodes"]} >= {f"node/{h}" for h in HOSTS}


async def test_a_hot_spine_uplink_gets_utilisation_wait_and_tops_explain(
    fabric: SimFabric, tmp_path: Path
) -> None:
    registry = load_registry()
    config = read_config(write_config(fabric, tmp_path, jobs=True), registry, required=True)
    engine = build_engine(build_sources(config, registry, None, local=False), registry)
    previous = os.environ.get("IBSIM_SOCKNAME")
    os.environ["IBSIM_SOCKNAME"] = fabric.sockname  # the tools inherit it
    try:
        await engine.collect(1)
        leaf01 = engine.store.get("switch/leaf01")
        assert leaf01 is not None
        lid = str(leaf01.attrs["lid"])
        # Between two polls: leaf01 → spine01 sends far more than 10 Gb/s worth, and waits.
        fabric.command('PerformanceSet "leaf01"[3] PortCountersExtended.PortXmitData=4000000000000')
        fabric.command('PerformanceSet "leaf01"[3] PortCounters.PortXmitWait=4000000000')
        fabric.wait_until(lambda: counter(fabric, lid, "PortXmitWait", basic=True) >= 4 * 10**9,
                          "the raised counters")  # fmt: skip
        await engine.collect(1)
        store = engine.store
        assert store.value(UPLINK, "link.util") == pytest.approx(100.0)
        assert (store.value("port/leaf01/3", "port.xmit_wait") or 0) > 1e6
        quiet = store.value("link/leaf02/3~spine01/2", "link.util")
        assert quiet is not None and quiet < 5
        result = explain(store, "job/4711")
        assert result is not None and result.causes, "no causes"
        assert result.causes[0].ref == UPLINK
        assert result.causes[0].kind == "congested-link"
    finally:
        fabric.command('PerformanceSet "leaf01"[3] PortCountersExtended.PortXmitData=0')
        fabric.command('PerformanceSet "leaf01"[3] PortCounters.PortXmitWait=0')
        await engine.stop()
        if previous is None:
            os.environ.pop("IBSIM_SOCKNAME", None)
        else:
            os.environ["IBSIM_SOCKNAME"] = previous


def counter(fabric: SimFabric, lid: str, name: str, basic: bool = False, port: str = "3") -> int:
    """One counter of one switch port, as perfquery reads it."""
    output = fabric.tool("perfquery", *([] if basic else ["-x"]), lid, port)
    for line in output.splitlines():
        if line.startswith(name + ":"):
            return int(line.rsplit(".", 1)[-1])
    return -1


async def test_unlink_gives_link_down_within_two_intervals_and_relink_clears_it(
    fabric: SimFabric, tmp_path: Path
) -> None:
    interval = 1.0
    registry = load_registry()
    config = read_config(write_config(fabric, tmp_path, interval=interval), registry, True)
    engine = build_engine(build_sources(config, registry, None, local=False), registry)
    link = "link/leaf02/3~spine01/2"
    os.environ["IBSIM_SOCKNAME"] = fabric.sockname
    try:
        await engine.collect(1)
        assert engine.store.get(link) is not None
        assert not _down(engine, link)
        engine.start()
        fabric.command('Unlink "leaf02"[3]')
        unlinked = time.monotonic()
        # Two intervals, plus room for two tool runs on a loaded 2-core machine.
        await _until(lambda: _down(engine, link), 2 * interval + 8, "link-down")
        took = time.monotonic() - unlinked
        finding = _down(engine, link)
        assert finding is not None and finding.severity == "critical"
        assert any("gone from the fabric discovery" in line for line in finding.evidence), finding
        assert set(finding.related) == {"port/leaf02/3", "port/spine01/2"}
        # the down port still names its cable, and the link stays in the graph for explain
        port = engine.store.get("port/leaf02/3")
        assert port is not None and port.attrs["state"] == "DOWN" and port.attrs["link"] == link
        fabric.command('ReLink "leaf02"[3]')
        await _until(lambda: _down(engine, link) is None, 2 * interval + 8, "the finding to clear")
        assert took <= 2 * interval + 8
    finally:
        fabric.command('ReLink "leaf02"[3]')
        await engine.stop()
        os.environ.pop("IBSIM_SOCKNAME", None)


def _down(engine: Engine, link: str) -> Finding | None:
    return next((f for f in engine.store.findings if f.kind == "link-down" and f.ref == link), None)


async def _until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:g}s")
        await asyncio.sleep(0.05)
