"""infiniband-diags output → entities, against real outputs (shared fixtures) and ibsim's."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.collect.ibfabric import (
    counter_samples,
    fabric_entities,
    looks_like_ibnetdiscover,
    parse_ibnetdiscover,
    parse_node_name_map,
    parse_perfquery,
    place,
    place_hca,
    speed_gbps,
)
from tests.conftest import FIXTURES

SHARED = FIXTURES / "infiniband"
IB = FIXTURES / "infiniband"


def _entities(path: Path, names: dict[str, str] | None = None) -> dict[str, object]:
    fabric = parse_ibnetdiscover(path.read_text(), str(path))
    placement = place(fabric, names or {})
    return {e.ref: e for e in fabric_entities(fabric, placement)}


def test_real_ibnetdiscover_ports_output_gives_switches_hosts_and_links() -> None:
    entities = _entities(IB / "ibnetdiscover-ports-test.out")
    links = {ref: e for ref, e in entities.items() if ref.startswith("link/")}
    assert set(links) == {
        "link/o0001/HCA-1:1~ib-i1l1s01/10", "link/o0002/HCA-1:1~ib-i1l1s01/11",
        "link/p0001/HCA-1:1~ib-i4l1s01/35", "link/ib-i1l1s01/1~ib-i1l2s01/1",
    }  # fmt: skip
    uplink = links["link/ib-i1l1s01/1~ib-i1l2s01/1"].attrs  # type: ignore[attr-defined]
    assert (uplink["speed_gbps"], uplink["tier"], uplink["width"]) == (100.0, "uplink", "4x")
    host_port = entities["port/o0001/HCA-1:1"]
    assert host_port.parent == "node/o0001"  # type: ignore[attr-defined]
    assert host_port.attrs["guid"] == "0x7cfe9003003b4bde"  # type: ignore[attr-defined]
    # unconnected ports: '4x ???' (speed unknown) and '4x SDR' without a peer
    assert entities["port/ib-i4l1s01/37"].attrs["state"] == "DOWN"  # type: ignore[attr-defined]
    assert entities["port/ib-i4l1s01/37"].attrs["speed_gbps"] is None  # type: ignore[attr-defined]
    assert "switch/ib-i7l2s01" in entities and "node/p0001" in entities


def test_an_unquoted_description_and_the_default_format_parse() -> None:
    entities = _entities(IB / "ibnetdiscover-ports-test3.out")
    assert "switch/Infiniscale-IV_Mellanox_Technologies" in entities
    # ibnetdiscover's default format (captured from the ibsim fabric of the tests)
    default = _entities(IB / "ibsim-leafspine-default.out")
    assert {r for r in default if r.startswith("link/")} == {
        "link/gpu01/mlx5_0:1~leaf01/1", "link/o0001/HCA-1:1~leaf01/2",
        "link/gpu02/mlx5_0:1~leaf02/1", "link/o0002/HCA-1:1~leaf02/2",
        "link/leaf01/7~spine01/1", "link/leaf01/8~spine02/1",
        "link/leaf02/7~spine01/2", "link/leaf02/8~spine02/2",
    }  # fmt: skip
    assert default["switch/leaf01"].attrs["lid"] == 4  # type: ignore[attr-defined]
    assert default["port/gpu01/mlx5_0:1"].attrs["lid"] == 2  # type: ignore[attr-defined]


def test_looks_like_tells_ibnetdiscover_from_yaml() -> None:
    assert looks_like_ibnetdiscover((IB / "ibnetdiscover-ports-test.out").read_text())
    assert looks_like_ibnetdiscover((IB / "ibsim-leafspine-default.out").read_text())
    assert not looks_like_ibnetdiscover("switches:\n  - {name: leaf01}\n")


def test_a_bad_line_names_the_file_and_line() -> None:
    good = (IB / "ibnetdiscover-ports-test.out").read_text().splitlines()
    text = "\n".join([*good[:3], "SW 1 2 zz garbage", *good[3:]])
    with pytest.raises(ValueError, match=r"^fab\.out:4: not an ibnetdiscover --ports line"):
        parse_ibnetdiscover(text, "fab.out")


def test_hosts_are_placed_by_description_or_the_map_and_never_guessed() -> None:
    assert place_hca("gpu01 mlx5_0") == ("gpu01", "mlx5_0")
    assert place_hca("o0001 HCA-1") == ("o0001", "HCA-1")
    assert place_hca("n7 mlx5_bond_0") == ("n7", "mlx5_bond_0")
    assert place_hca("MT4129 ConnectX7 Mellanox Technologies") is None
    assert place_hca("ConnectX7 mlx") is None
    text = (IB / "ibnetdiscover-ports-test.out").read_text()
    text = text.replace("'p0001 HCA-1'", "'MT4123 ConnectX6 Mellanox Technologies'")
    fabric = parse_ibnetdiscover(text, "x")
    placement = place(fabric, {})
    assert placement.unplaced == ["'MT4123 ConnectX6 Mellanox Technologies' (0x506b4b0300cc02a6)"]
    names = parse_node_name_map(
        '# site map\n0x506b4b0300cc02a6 "p0001 mlx5_0"\n0x7cfe9003009ce5b0 "leaf-a1"\n', "map"
    )
    placement = place(fabric, names)
    assert placement.unplaced == []
    refs = {e.ref for e in fabric_entities(fabric, placement)}
    assert "link/p0001/mlx5_0:1~ib-i4l1s01/35" in refs
    assert "link/o0001/HCA-1:1~leaf-a1/10" in refs
    with pytest.raises(ValueError, match=r"^map:2: expected"):
        parse_node_name_map('0x1 "a"\nnot a line at all\n', "map")


def test_perfquery_extended_output_maps_words_to_bytes() -> None:
    blocks = parse_perfquery((SHARED / "perfquery" / "0x7cfe9003009ce5b0.out").read_text())
    assert [(b.port, b.extended) for b in blocks] == [(1, True), (2, True)]
    values, pinned = counter_samples(blocks[0])
    assert values["port.tx_bytes"] == 36298026860928 * 4
    assert values["port.xmit_wait"] == 22730501 and pinned == []
    assert parse_perfquery((SHARED / "perfquery" / "0x506b4b0300cc02a6.out").read_text()) == []
    link_downed = parse_perfquery((SHARED / "perfquery" / "0x506b4b03005c2740.out").read_text())
    assert counter_samples(link_downed[0])[0]["port.link_downed"] == 1


def test_basic_counters_at_their_maximum_are_pinned_not_zero_traffic() -> None:
    basic = parse_perfquery(
        "# Port counters: Lid 4 port 7 (CapMask: 0x1300)\nPortSelect:......7\n"
        "LinkDownedCounter:...............255\nPortXmitWait:....................4294967295\n"
        "SymbolErrorCounter:..............12\n"
    )
    values, pinned = counter_samples(basic[0])
    assert sorted(pinned) == ["port.link_downed", "port.xmit_wait"]
    assert values["port.xmit_wait"] is None and values["port.symbol_errors"] == 12
    extended = parse_perfquery(
        "# Port extended counters: Lid 4 port 7 (CapMask: 0x1300 CapMask2: 0x0000000)\n"
        "PortXmitData:....................4294967295\n"
    )
    extended[0].fill_from(basic[0])
    values, pinned = counter_samples(extended[0])
    assert values["port.tx_bytes"] == 4294967295 * 4  # 64-bit: not pinned
    assert "port.xmit_wait" in pinned


def test_speeds() -> None:
    assert speed_gbps("4x", "EDR") == 100.0
    assert speed_gbps("4x", "NDR") == 400.0
    assert speed_gbps("1x", "HDR") == 50.0
    assert speed_gbps("4x", None) is None
