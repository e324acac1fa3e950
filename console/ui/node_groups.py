"""Nodes grouped by rack or leaf switch, for an overview that cannot list them all.

A thousand nodes do not fit in fifteen rows; fifteen racks or leaves (or the worst
of them) do. A group row stands for its nodes: Enter unfolds it in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from console.core.model import Entity
from console.core.store import natural_sorted

GROUPINGS = ("rack", "leaf")
"""Node attributes that group nodes, in order of preference (a rack is what a person
walks to; a leaf is what the fabric shares)."""
GROUP_PREFIX = "group:"
"""Row keys of group rows: ``group:rack01``."""
GROUP_BLOCKS = 8
"""Heat blocks a group row shows (as many as a node row's eight GPUs): a leaf of 32
nodes is averaged into 8, so the temperature and power columns stay in view."""
UNGROUPED = "other"
"""The group of nodes that do not say their rack or leaf."""


def group_name(node: Entity, by: str) -> str:
    """``rack01``, or ``leaf03`` for ``switch/leaf03``."""
    value = node.attrs.get(by)
    if not isinstance(value, str) or not value:
        return UNGROUPED
    return value.rpartition("/")[2]


def group_nodes(nodes: Iterable[Entity], rows: int) -> tuple[str, dict[str, list[str]]]:
    """The grouping that fits in ``rows`` (the preferred one first), else the one with
    the fewest groups: ``(attribute, {group: node refs in order})``; ``("", {})`` when
    no node says its rack or leaf."""
    nodes = list(nodes)
    best: tuple[str, dict[str, list[str]]] = ("", {})
    for by in GROUPINGS:
        groups: dict[str, list[str]] = {}
        for node in nodes:
            groups.setdefault(group_name(node, by), []).append(node.ref)
        if list(groups) == [UNGROUPED]:
            continue  # nobody says
        if len(groups) <= rows:
            return by, groups
        if not best[0] or len(groups) < len(best[1]):
            best = (by, groups)
    return best


def grouped_alike(before: Sequence[Entity], now: Sequence[Entity]) -> bool:
    """Whether ``now`` groups as ``before`` did: the same nodes in the same order, with
    the same racks and leaves. A node reported again is a new object, equal or not in
    its other attributes: only what grouping reads is compared (comparing whole
    entities took 5 ms a refresh at 4,000 nodes)."""
    return len(before) == len(now) and all(
        old is new
        or (old.ref == new.ref and all(old.attrs.get(by) == new.attrs.get(by) for by in GROUPINGS))
        for old, new in zip(before, now, strict=True)
    )


def worst_first(groups: Mapping[str, list[str]], rank: Mapping[str, int]) -> list[str]:
    """Group names, those whose nodes rank worst (lowest) first, then by name."""
    worst = {name: min((rank.get(ref, 9) for ref in refs), default=9)
             for name, refs in groups.items()}  # fmt: skip
    return sorted(natural_sorted(groups), key=worst.__getitem__)  # stable: name order within


def buckets(values: list[float | None], count: int) -> list[float | None]:
    """``values`` averaged into at most ``count`` consecutive buckets (``None`` where a
    bucket has no known value)."""
    size = max(1, -(-len(values) // count))
    means: list[float | None] = []
    for start in range(0, len(values), size):
        known = [v for v in values[start : start + size] if v is not None]
        means.append(sum(known) / len(known) if known else None)
    return means
