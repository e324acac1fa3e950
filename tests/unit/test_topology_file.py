"""Topology files: the fabric graph, and mistakes named by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.analysis.topology import Fabric
from console.collect.topology_file import parse_topology, parse_topology_file
from console.core.config import ConfigError
from console.core.engine import Engine
from console.core.model import Batch
from console.core.runtime import build_sources, load_registry, read_config
from console.core.store import Store
from tests.conftest import FIXTURES

TOPOLOGY = """\
switches:
  - {name: leaf01, tier: leaf}
  - {name: leaf02, tier: leaf}
  - {name: spine01, tier: spine}
  - {name: spine02, tier: spine}
nodes:
  - {name: gpu001, rack: r01}
  - {name: gpu002}
links:
  - {a: gpu001/mlx5_0:1, b: leaf01/p1, speed_gbps: 400}
  - {a: gpu002/mlx5_0:1, b: leaf02/p1, speed_gbps: 400}
  - {a: leaf01/p33, b: spine01/p1, speed_gbps: 400}
  - {a: leaf01/p34, b: spine02/p1, speed_gbps: 400}
  - {a: leaf02/p33, b: spine01/p2, speed_gbps: 400}
  - {a: leaf02/p34, b: spine02/p2, speed_gbps: 400}
"""


def test_a_topology_gives_the_graph_and_its_equal_cost_paths() -> None:
    entities = parse_topology(TOPOLOGY, "topo.yaml")
    store = Store()

    store.apply(Batch(entities=entities), "topology", 1.0)
    assert store.count("link") == 6 and store.count("switch") == 4
    port = store.get("port/gpu001/mlx5_0:1")
    assert port is not None and port.parent == "node/gpu001"
    assert port.attrs["link"] == "link/gpu001/mlx5_0:1~leaf01/p1"
    assert store.get("node/gpu001").attrs == {"rack": "r01"}  # type: ignore[union-attr]
    paths = Fabric.from_store(store).paths("gpu001", "gpu002")
    assert len(paths) == 2 and all(len(p) == 4 for p in paths)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("switch:\n  - {name: a}\n", "t.yaml:1: unknown key 'switch'"),
        ("switches:\n  - {name: a, tier: top}\n", "t.yaml:2: switches[0]: tier must be one of"),
        ("nodes:\n  - {name: n1}\nlinks:\n  - {a: n1/p1, b: x/p1, speed_gbps: 400}\n",
         "t.yaml:4: links[0]: 'x' is neither a declared node nor a switch"),
        ("nodes:\n  - {name: n1}\n  - {name: n2}\nlinks:\n  - {a: n1/p1, b: n2/p1}\n",
         "t.yaml:5: links[0]: 'speed_gbps' is required"),
        ("nodes:\n  - {name: n1}\n  - {name: n2}\nlinks:\n"
         "  - {a: n1/p1, b: n2/p1, speed_gbps: fast}\n",
         "t.yaml:5: links[0]: 'speed_gbps' has the wrong type"),
        ("nodes:\n  - {name: n1}\nlinks:\n  - {a: n1, b: n1/p2, speed_gbps: 1}\n",
         "t.yaml:4: links[0]: 'n1' is not <node or switch>/<port>"),
        ("nodes:\n  - {name: n1}\n  - {name: n2}\n  - {name: n3}\nlinks:\n"
         "  - {a: n1/p1, b: n2/p1, speed_gbps: 1}\n  - {a: n1/p1, b: n3/p1, speed_gbps: 1}\n",
         "t.yaml:7: links[1]: port port/n1/p1 is already on another link"),
        ("links: [\n", "t.yaml:2: not valid YAML"),
    ],
)  # fmt: skip
def test_mistakes_name_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_topology(text, "t.yaml")
    assert str(info.value).startswith(message)


async def test_config_topology_key_loads_the_file(tmp_path: Path) -> None:
    (tmp_path / "topo.yaml").write_text(TOPOLOGY)
    (tmp_path / "config.yaml").write_text("topology: topo.yaml\n")
    registry = load_registry()
    config = read_config(tmp_path / "config.yaml", registry, required=True)
    sources = [s for s in build_sources(config, registry, None, local=False)]
    assert [s.type for s in sources] == ["topology"]
    engine = Engine(Store(), sources)
    await engine.collect(1)
    assert engine.store.count("link") == 6
    (tmp_path / "topo.yaml").write_text("links: 3\n")
    await engine.collect(1)
    status = engine.statuses()[0]
    assert status.status == "stale" and "topo.yaml:1: 'links' must be a list" in status.reason


TOPOLOGY_CONF = """\
# a two-level tree, as the Slurm docs write it
SwitchName=leaf01 Nodes=gpu[001-004] LinkSpeed=400
SwitchName=leaf02 Nodes=gpu[005-008],gpu010 LinkSpeed=400
SwitchName=spine01 Switches=leaf[01-02]
"""


def test_a_slurm_topology_conf_loads_with_host_ranges(tmp_path: Path) -> None:
    entities = {e.ref: e for e in parse_topology_file(TOPOLOGY_CONF, "topology.conf")}
    assert {r for r in entities if r.startswith("switch/")} == {
        "switch/leaf01", "switch/leaf02", "switch/spine01"}  # fmt: skip
    assert len([r for r in entities if r.startswith("node/")]) == 9
    link = entities["link/gpu010/leaf02~leaf02/gpu010"]
    assert (link.attrs["speed_gbps"], link.attrs["tier"]) == (400.0, "host")
    assert entities["switch/spine01"].attrs["tier"] == "spine"
    store = Store()
    store.apply(Batch(entities=list(entities.values())), "topology", 1.0)
    paths = Fabric.from_store(store).paths("gpu001", "gpu010")
    assert [[hop for hop, _ in path] for path in paths] == [[
        "link/gpu001/leaf01~leaf01/gpu001", "link/leaf01/spine01~spine01/leaf01",
        "link/leaf02/spine01~spine01/leaf02", "link/gpu010/leaf02~leaf02/gpu010"]]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SwitchName=s1 Nodes=n[1-\n", r"^t\.conf:1: bad host list 'n\[1-'"),
        ("SwitchName=s1 Nodes=n1\nSwitchName=s2 Switchez=s1\n", r"^t\.conf:2: expected"),
        ("SwitchName=s1 Nodes=n1\n\nSwitchName=s2 Switches=s9\n", r"^t\.conf:3: .*'s9'"),
        ("SwitchName=s1 Nodes=n1\nSwitchName=s1 Nodes=n2\n", r"^t\.conf:2: .*defined twice"),
        ("SwitchName=s1 Nodes=n[0-999999999]\n", r"^t\.conf:1: .*(too large|expands to over)"),
    ],
)
def test_topology_conf_mistakes_name_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_topology_file(text, "t.conf")


@pytest.mark.parametrize(
    "name", ["ibnetdiscover-ports-test.out", "ibnetdiscover-ports-test3.out",
             "ibsim-leafspine-default.out"],
)  # fmt: skip
async def test_an_ibnetdiscover_output_is_a_topology_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text((FIXTURES / "infiniband" / name).read_text())
    config_path = tmp_path / "config.yaml"
    config_path.write_text(f"topology: {path}\n")
    registry = load_registry()
    config = read_config(config_path, registry, required=True)
    engine = Engine(Store(), build_sources(config, registry, None, local=False))
    await engine.collect(1)
    status = next(s for s in engine.statuses() if s.type == "topology")
    assert status.status == "ok", status.reason
    assert engine.store.count("switch") >= 1
    for link in engine.store.of_kind("link"):
        assert "state" not in link.attrs  # the file is old news: live sources say the state
    if name == "ibsim-leafspine-default.out":
        assert engine.store.count("link") == 8
        assert Fabric.from_store(engine.store).paths("gpu01", "gpu02")
