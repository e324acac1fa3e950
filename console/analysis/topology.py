"""The fabric as a graph: nodes and switches joined by links; paths between nodes.

Built from the link entities in the store (the simulator's, or a topology file's
when that source arrives), so it is the same for every source of links.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from console.core.store import Store

Hop = tuple[str, bool]
"""A link ref and whether it is crossed a→b."""


def owner(port_ref: str) -> str:
    """``port/leaf01/p3`` → ``leaf01``."""
    parts = port_ref.split("/")
    return parts[1] if len(parts) > 2 else ""


@dataclass
class Fabric:
    """Adjacency of nodes and switches (by name) through links."""

    edges: dict[str, list[tuple[str, Hop]]] = field(default_factory=dict)

    @classmethod
    def from_store(cls, store: Store) -> Fabric:
        fabric = cls()
        for link in store.of_kind("link"):
            a, b = owner(str(link.attrs.get("a", ""))), owner(str(link.attrs.get("b", "")))
            if a and b:
                fabric.edges.setdefault(a, []).append((b, (link.ref, True)))
                fabric.edges.setdefault(b, []).append((a, (link.ref, False)))
        return fabric

    def neighbours(self, vertex: str) -> list[str]:
        """Vertices one link away (a leaf's hosts and spines)."""
        return [other for other, _ in self.edges.get(vertex, [])]

    def paths(self, src: str, dst: str, limit: int = 64) -> list[list[Hop]]:
        """All shortest paths from ``src`` to ``dst`` (the ECMP set), at most ``limit``."""
        if src == dst or src not in self.edges or dst not in self.edges:
            return []
        distance = {src: 0}
        parents: dict[str, list[tuple[str, Hop]]] = {}
        queue = deque([src])
        while queue:
            vertex = queue.popleft()
            if vertex == dst:
                break
            for other, hop in self.edges[vertex]:
                if other not in distance:
                    distance[other] = distance[vertex] + 1
                    queue.append(other)
                if distance[other] == distance[vertex] + 1:
                    parents.setdefault(other, []).append((vertex, hop))
        if dst not in distance:
            return []
        paths: list[list[Hop]] = []

        def walk(vertex: str, tail: list[Hop]) -> None:
            if len(paths) >= limit:
                return
            if vertex == src:
                paths.append(list(reversed(tail)))
                return
            for parent, hop in parents.get(vertex, []):
                walk(parent, [*tail, hop])

        walk(dst, [])
        return paths
