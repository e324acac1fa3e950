"""The agent's ``/v1/snapshot`` document: written by the agent, checked by the console.

The console trusts nothing in it: the shape is checked field by field, numbers
must be finite, strings are bounded, and every entity must belong to the node
that the agent says it is (a lying agent cannot overwrite another node).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from console import __version__
from console.api import API_VERSION, SourceStatus
from console.core.model import Batch, Entity, Sample, ref_kind
from console.core.store import Store

WIRE_VERSION = 3
"""Version of the agent's wire (this document and the ``/v2/stream`` frames); a console
refuses any other, naming both. 2: the stream was added (``stream_wire.py``); 3: the
stream's series go by metric (``keys`` ``{metric: [ref, ...]}``, ``values`` a list per
metric), which the console reads as columns."""
MAX_ENTITIES = 10_000
"""Entities (and sample refs) one agent may report: a node has tens of GPUs and ports and
at most a few hundred events; 100,000 GPUs from one agent pinned a core."""
MAX_SERIES = 20_000
"""Series (ref, metric) one agent may report (an 8-GPU node has ~600)."""
MAX_PROCESSES = 256
"""GPU processes kept per GPU (200,000 froze the TUI for 18 s); the rest are counted."""
MAX_TEXT = 512
AGENT_KINDS = frozenset({"node", "gpu", "port", "event"})
"""What an agent reports about its own node (events: ``event/<node>/…``)."""


class WireError(ValueError):
    """The document is not what an agent sends; the message says what is wrong."""


def encode(
    node: str,
    time: float | None,
    entities: Iterable[Entity],
    samples: Iterable[tuple[str, str, float | None]],
    statuses: Iterable[SourceStatus],
) -> dict[str, Any]:
    """The snapshot document: what the agent knows now."""
    return {
        "wire_version": WIRE_VERSION,
        "api_version": API_VERSION,
        "agent_version": __version__,
        "node": node,
        "time": time,
        "entities": [
            {"ref": e.ref, "name": e.name, "parent": e.parent, "attrs": e.attrs} for e in entities
        ],
        "samples": grouped_samples(samples),
        "sources": [s.to_json() for s in statuses],
    }


def grouped_samples(samples: Iterable[tuple[str, str, float | None]]) -> dict[str, dict[str, Any]]:
    # {ref: {metric: value}}: each ref written (and checked) once, not once per metric.
    grouped: dict[str, dict[str, Any]] = {}
    for ref, metric, value in samples:
        grouped.setdefault(ref, {})[metric] = value
    return grouped


def store_samples(store: Store) -> list[tuple[str, str, float | None]]:
    """The store's newest raw readings as ``(ref, metric, value)``."""
    return [(ref, metric, reading.value) for ref, metric, reading in store.readings()]


def checked_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise WireError(f"{what} must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def _owner(ref: str) -> str:
    parts = ref.split("/")
    return parts[1] if len(parts) > 1 else ""


def decode(document: Any) -> tuple[str, Batch, list[dict[str, Any]]]:
    """``(node, batch, source statuses)`` from a snapshot document, or WireError."""
    if not isinstance(document, dict):
        raise WireError(f"expected a JSON object, got {type(document).__name__}")
    check_version(document.get("wire_version"))
    node = checked_text(document.get("node"), "node")
    if "/" in node:
        raise WireError("node name contains '/'")
    time = check_time_field(document.get("time"))
    entities_in = document.get("entities")
    samples_in = document.get("samples")
    if not isinstance(entities_in, list) or len(entities_in) > MAX_ENTITIES:
        raise WireError(f"entities must be a list of at most {MAX_ENTITIES}")
    if not isinstance(samples_in, dict) or len(samples_in) > MAX_ENTITIES:
        raise WireError(f"samples must map at most {MAX_ENTITIES} refs to their readings")
    entities = [entity_of(item, node) for item in entities_in]
    samples = []
    for ref, metrics in samples_in.items():
        check_sample_ref(ref, node)
        if not isinstance(metrics, dict):
            raise WireError("samples must map each ref to {metric: value}")
        for metric, value in metrics.items():
            check_metric(metric)
            samples.append(Sample(ref, metric, number(value, metric)))
    return node, Batch(entities=entities, samples=samples, time=time), statuses_of(document)


def check_version(version: Any) -> None:
    """WireError naming both versions unless the agent speaks this console's."""
    if version != WIRE_VERSION:
        raise WireError(
            f"version mismatch: agent speaks wire version {version!r}, this console "
            f"{WIRE_VERSION} (run the same watchfloor release on both)"
        )


def check_time_field(time: Any) -> float | None:
    if time is not None and not _finite_number(time):
        raise WireError("time must be a number")
    return time


def _finite_number(value: Any) -> bool:
    """An int or float (bool is not a number here) that is finite as a float: JSON's
    integers have no size, and one of 400 digits is no float at all."""
    try:
        return type(value) in (int, float) and math.isfinite(value)
    except OverflowError:
        return False


def entity_of(item: Any, node: str) -> Entity:
    """One checked entity of ``node``."""
    if not isinstance(item, dict):
        raise WireError("each entity must be an object")
    ref = checked_text(item.get("ref"), "entity ref")
    check_entity_owner(ref, node)
    parent = item.get("parent")
    if parent is not None:
        checked_text(parent, "parent")
    check_parent_owner(parent, node)
    attrs = item.get("attrs", {})
    if not isinstance(attrs, dict):
        raise WireError("entity attrs must be an object")
    name = checked_text(item.get("name"), "entity name")
    return Entity(ref, name, parent, checked_attrs(attrs, ref))


def check_entity_owner(ref: str, node: str) -> None:
    """WireError unless ``ref`` is an entity of ``node`` that an agent reports."""
    if ref_kind(ref) not in AGENT_KINDS or _owner(ref) != node:
        raise WireError(f"entity {ref[:80]!r} does not belong to node {node!r}")


def check_parent_owner(parent: str | None, node: str) -> None:
    """WireError unless ``parent`` (a checked text, or ``None``) belongs to ``node``."""
    if parent is not None and not _of_node(parent, node):
        raise WireError(f"parent {parent[:80]!r} does not belong to node {node!r}")


def capped_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """An entity's attrs with at most :data:`MAX_PROCESSES` processes (the rest counted)."""
    processes = attrs.get("processes")
    if isinstance(processes, list) and len(processes) > MAX_PROCESSES:
        attrs = {**attrs, "processes": processes[:MAX_PROCESSES],
                 "processes_dropped": len(processes) - MAX_PROCESSES}  # fmt: skip
    return attrs


def checked_attrs(attrs: dict[str, Any], ref: str) -> dict[str, Any]:
    """:func:`capped_attrs`, checked: WireError naming the first number in them that is
    no finite float nor a 64-bit integer."""
    attrs = capped_attrs(attrs)
    check_attr_numbers(attrs, ref)
    return attrs


def check_attr_numbers(attrs: dict[str, Any], ref: str) -> None:
    """WireError naming (``processes[0].gpu_mem_mib``) the first number in ``ref``'s
    attrs that is an infinity, NaN, or an integer past 64 bits (made a float, one past
    a float's range raises OverflowError; the recorder's msgpack raises on one past 64
    bits). A loop, not recursion: a hostile agent nests as deep as its decoder allows;
    each container waiting carries a link to its parent's path, not a copy of it (a
    million lists 200 deep would have held 200 steps each: gigabytes)."""
    stack: list[tuple[_Link, dict[str, Any] | list[Any]]] = [(None, attrs)]
    while stack:
        link, container = stack.pop()
        items = container.items() if type(container) is dict else enumerate(container)
        for key, value in items:
            if isinstance(value, dict | list):
                stack.append(((link, key), value))
            elif not _plain_attr(value):
                where = _path_text(_steps((link, key)))[:120]
                raise WireError(f"attribute {where} of {ref[:80]} must be a finite number "
                                "(a float, or an integer of at most 64 bits)")  # fmt: skip


def _plain_attr(value: Any) -> bool:
    """Anything but a float that is not finite or an integer past 64 bits."""
    if isinstance(value, float):
        return math.isfinite(value)
    if type(value) is int:
        return -(2**63) <= value < 2**64
    return True


_Link = tuple[Any, str | int] | None
"""A path into attrs as a chain: ``(parent's link, key)``, ``None`` at the top."""


def _steps(link: _Link) -> tuple[str | int, ...]:
    """The keys of a path, from the top."""
    steps: list[str | int] = []
    while link is not None:
        link, key = link
        steps.append(key)
    return tuple(reversed(steps))


def _path_text(path: tuple[str | int, ...]) -> str:
    """``("processes", 0, "gpu_mem_mib")`` as ``processes[0].gpu_mem_mib``."""
    text = ""
    for step in path:
        text += f"[{step}]" if type(step) is int else f".{step}" if text else str(step)
    return text


def check_sample_ref(ref: Any, node: str) -> None:
    checked_text(ref, "sample ref")
    if not _of_node(ref, node):
        raise WireError(f"samples for {ref[:80]!r} do not belong to node {node!r}")


def _of_node(ref: str, node: str) -> bool:
    """Whether ``ref`` is ``<kind>/<node>[/...]`` (a kind, as ``check_batch`` asks)."""
    return _owner(ref) == node and not ref.startswith("/")


def check_metric(metric: Any) -> None:
    if not isinstance(metric, str) or len(metric) > MAX_TEXT:
        raise WireError(f"metric names must be strings of at most {MAX_TEXT} characters")


def number(value: Any, metric: str) -> float | None:
    """A reading's value: a finite number or null (bool is not a number here)."""
    if value is None:
        return None
    if not _finite_number(value):
        raise WireError(f"value of {metric[:80]} must be a finite number or null")
    return float(value)


def statuses_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    statuses = document.get("sources", [])
    if not isinstance(statuses, list):
        raise WireError("sources must be a list")
    return statuses
