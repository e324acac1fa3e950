"""infiniband_exporter expositions (v0.9.0 and v0.10.0, real) through the mapping table."""

from __future__ import annotations

from typing import Any

from console.analysis.topology import Fabric
from console.api import Batch, Entity
from console.core.store import Store
from tests.conftest import FIXTURES
from watchfloor_prometheus.exporter_source import ExporterSource
from watchfloor_prometheus.tables import select

IB = FIXTURES / "infiniband"
Values = dict[tuple[str, str], float | None]


def read(*files: str, **options: Any) -> tuple[dict[str, Entity], Values]:
    source = ExporterSource("file:///metrics.txt", 1.0, select("auto"), options=options)
    text = "".join((IB / name).read_text() for name in files)
    batch = source.read(text, 1000.0)
    return {e.ref: e for e in batch.entities}, {
        (s.ref, s.metric): s.value for s in batch.as_samples()
    }


def test_v010_switch_ports_carry_octets_and_the_uplinks_give_the_graph() -> None:
    entities, values = read("infiniband_exporter-v0.10.0-switch.prom")
    # 145192107443712 octets = PortXmitData 36298026860928 words × 4 (perfquery fixture)
    assert values[("port/ib-i1l1s01/1", "port.tx_bytes")] == 145192107443712
    assert values[("port/ib-i4l1s01/1", "port.link_downed")] == 1
    assert values[("port/ib-i1l1s01/1", "port.xmit_wait")] == 22730501
    links = {ref: e for ref, e in entities.items() if ref.startswith("link/")}
    assert set(links) == {
        "link/ib-i1l1s01/1~ib-i1l2s01/1", "link/o0001/HCA-1:1~ib-i1l1s01/10",
        "link/o0002/HCA-1:1~ib-i1l1s01/11", "link/p0001/HCA-1:1~ib-i4l1s01/35",
    }  # fmt: skip
    uplink = links["link/ib-i1l1s01/1~ib-i1l2s01/1"].attrs
    assert (uplink["speed_gbps"], uplink["tier"]) == (100.0, "uplink")
    assert entities["port/o0001/HCA-1:1"].parent == "node/o0001"
    store = Store()
    store.apply(Batch(entities=list(entities.values())), "x", 1)
    assert Fabric.from_store(store).paths("o0001", "o0002")


def test_before_v010_data_counters_are_words_and_are_multiplied() -> None:
    _, old = read("infiniband_exporter-v0.9.0-switch.prom")
    _, new = read("infiniband_exporter-v0.10.0-switch.prom")
    key = ("port/ib-i1l1s01/1", "port.tx_bytes")
    assert old[key] == new[key] == 145192107443712
    # an HCA exposition has no version tell: the option says
    _, hca_old = read("infiniband_exporter-v0.9.0-hca.prom", infiniband_data="words")
    _, hca_new = read("infiniband_exporter-v0.10.0-hca.prom")
    key = ("port/o0001/HCA-1:1", "port.tx_bytes")
    assert hca_old[key] == hca_new[key] == 36198369975904
    _, as_bytes = read("infiniband_exporter-v0.9.0-hca.prom")
    assert as_bytes[key] == 36198369975904 / 4


def test_both_collectors_in_one_exposition_agree_on_the_host_link() -> None:
    entities, values = read(
        "infiniband_exporter-v0.10.0-switch.prom", "infiniband_exporter-v0.10.0-hca.prom"
    )
    link = entities["link/o0001/HCA-1:1~ib-i1l1s01/10"]
    assert link.attrs["a"] == "port/o0001/HCA-1:1" and link.attrs["b"] == "port/ib-i1l1s01/10"
    assert values[("port/o0001/HCA-1:1", "port.rx_bytes")] == 39009938353200
