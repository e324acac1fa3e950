"""Topology files: the fabric graph, and mistakes named by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config import ConfigError
from console.engine import Engine
from console.model import Batch
from console.runtime import build_sources, load_registry, read_config
from console.store import Store
from console.topology import Fabric
from console.topology_file import parse_topology

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
