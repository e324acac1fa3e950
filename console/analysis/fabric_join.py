"""Join the fabric's view of a cable to the host's own port, by GUID.

The ``infiniband`` source names a host's end of a link from the HCA's node
description (``gpu01 mlx5_0`` → ``port/gpu01/mlx5_0:1``). Where the host source
(locally or through an agent) reports the same port GUID (or node GUID, for the
same port number), the link's end becomes that host's own port ref: host counters
and switch counters then describe the two ends of one link, and an HCA the names
could not place (``port/ca-0x…/1``) lands on its host.
"""

from __future__ import annotations

from collections.abc import Iterable

from console.core.model import Entity, Finding
from console.core.store import Store


def _index(store: Store) -> tuple[dict[str, str], dict[tuple[str, int], str]]:
    by_port: dict[str, str] = {}
    by_node: dict[tuple[str, int], str] = {}
    for port in store.of_kind("port"):
        port_guid = port.attrs.get("port_guid")
        if isinstance(port_guid, str):
            by_port[port_guid] = port.ref
        node_guid, number = port.attrs.get("node_guid"), port.attrs.get("port")
        if isinstance(node_guid, str) and isinstance(number, int):
            by_node[(node_guid, number)] = port.ref
    return by_port, by_node


def join_by_guid(store: Store) -> Iterable[Finding]:
    """Point each fabric link end at the host port that reports its GUID."""
    links = [link for link in store.of_kind("link") if "a_guid" in link.attrs]
    if not links:
        return []
    by_port, by_node = _index(store)
    if not by_port and not by_node:
        return []
    for link in links:
        for end in ("a", "b"):
            guid = link.attrs.get(f"{end}_guid")
            current = str(link.attrs.get(end) or "")
            fabric_port = store.get(current)
            number = fabric_port.attrs.get("port") if fabric_port is not None else None
            own = by_port.get(str(guid)) or by_node.get((str(guid), number))  # type: ignore[arg-type]
            if own is None or own == current:
                continue
            link.attrs[end] = own
            store.touch(link.ref)  # changed in place: what was kept about it is recomputed
            host_port = store.get(own)
            if host_port is not None:
                _mark(host_port, link, str(link.attrs["b" if end == "a" else "a"]))
                store.touch(own)
            if fabric_port is not None:
                fabric_port.attrs["joined_to"] = own
                store.touch(current)
    return []


def _mark(port: Entity, link: Entity, peer: str) -> None:
    port.attrs["link"] = link.ref
    port.attrs["peer"] = peer
