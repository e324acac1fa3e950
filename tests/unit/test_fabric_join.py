"""A host's own port joins the fabric's link by GUID."""

from __future__ import annotations

from console.analysis.fabric_join import join_by_guid
from console.analysis.topology import Fabric
from console.collect.ibfabric import fabric_entities, parse_ibnetdiscover, place
from console.core.model import Batch, Entity
from console.core.store import Store
from tests.conftest import FIXTURES

TEXT = (FIXTURES / "infiniband" / "ibnetdiscover-ports-test.out").read_text()


def _store(text: str) -> Store:
    fabric = parse_ibnetdiscover(text, "x")
    store = Store()
    store.apply(Batch(entities=fabric_entities(fabric, place(fabric, {}))), "infiniband", 1.0)
    return store


def test_the_host_port_reporting_the_guid_becomes_the_links_end() -> None:
    store = _store(TEXT)
    attrs = {"device": "mlx5_0", "port": 1, "port_guid": "0x7cfe9003003b4bde"}
    host_port = Entity("port/o0001/mlx5_0:1", "mlx5_0:1", "node/o0001", attrs)
    store.apply(Batch(entities=[host_port]), "host", 1.0)
    join_by_guid(store)
    link = store.get("link/o0001/HCA-1:1~ib-i1l1s01/10")
    assert link is not None and link.attrs["a"] == "port/o0001/mlx5_0:1"
    assert store.get("port/o0001/mlx5_0:1").attrs["link"] == link.ref  # type: ignore[union-attr]


def test_an_unplaced_hca_lands_on_the_host_that_reports_its_node_guid() -> None:
    store = _store(TEXT.replace("'p0001 HCA-1'", "'MT4123 ConnectX6 Mellanox Technologies'"))
    link = next(e for e in store.of_kind("link") if "ca-" in str(e.attrs["a"]))
    assert Fabric.from_store(store).paths("p0001", "o0001") == []
    host_port = Entity("port/p0001/mlx5_2:1", "mlx5_2:1", "node/p0001",
                       {"port": 1, "node_guid": "0x506b4b0300cc02a6"})  # fmt: skip
    store.apply(Batch(entities=[host_port]), "host", 1.0)
    join_by_guid(store)
    assert link.attrs["a"] == "port/p0001/mlx5_2:1"
    assert store.get(link.ref) is link
    assert Fabric.from_store(store).neighbours("p0001") == ["ib-i4l1s01"]
