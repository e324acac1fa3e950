"""A seek's entities: the newest recorded body of each, from a keyframe and the frames
after it, made in C where a loop can be.

At 1,000 simulated nodes a keyframe holds 13,000 entities and each frame after it the
5,500 GPUs whose processes' shares moved. Taken frame by frame as refs and bytes (one
dict update a frame, a bytes object a body) nine frames cost a seek ~35 ms. Here a
frame's flags say which of the keyframe's places its bodies go to, and its bodies stay
views into the frame's inflated part (``msgspec.Raw``) until the store decodes the
ones it has not made before (:func:`payloads`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from itertools import compress as selected
from typing import Any

import msgspec

from console.recording.codec import Like, inflate

_RAWS = msgspec.msgpack.Decoder(list[msgspec.Raw])
_BODIES = msgspec.msgpack.Decoder(list[bytes])

Bodies = dict[str, Any]
"""Recorded entity bodies by ref: ``bytes``, or a ``msgspec.Raw`` of a msgpack ``bin``
holding them (:func:`payloads` makes both ``bytes``)."""


def latest_entities(
    frames: Sequence[tuple[float, dict[str, Any]]], like: Callable[[], Like]
) -> tuple[Bodies, dict[str, str]] | None:
    """Each entity's newest body and its source by ref, in the order a dict updated
    frame by frame would hold them (the keyframe's first); ``None`` when the frames
    are not all of version 7 and later (a keyframe's ``r`` and ``B``, its frames' flags
    ``n``), or a frame removes one of the keyframe's entities (its place would move):
    the caller takes them frame by frame. ValueError when damaged."""
    key_body = frames[0][1]
    if "r" not in key_body or "B" not in key_body:
        return None
    if any("n" not in body for _time, body in frames[1:]):
        return None
    refs, sources = key_body["r"]
    slots: list[Any] = list(key_body["B"])
    if not len(refs) == len(sources) == len(slots):
        raise ValueError("damaged entities: not one source and body a ref")
    keyed: set[str] | None = None  # the keyframe's refs, made only when a frame removes any
    moved: dict[int, str] = {}  # a keyframe's place listed apart, with another source
    later: dict[str, tuple[str, Any]] = {}  # refs the keyframe has not: (source, body)
    at: dict[str, int] = {}  # the keyframe's place of each ref, made only when one is apart
    for number, (_time, body) in enumerate(frames):
        if number > 0:
            _lay(body, like, refs, slots, moved, later, at)
        removed = body.get("x") or []
        if removed:  # (after the frame's own, as a dict updated then popped)
            keyed = set(refs) if keyed is None else keyed
            if not keyed.isdisjoint(removed):
                return None
            for ref in removed:
                later.pop(ref, None)
    entities = dict(zip(refs, slots, strict=True))
    owners = dict(zip(refs, sources, strict=True))
    for place, source in moved.items():
        owners[refs[place]] = source
    for ref, (source, entity) in later.items():
        entities[ref] = entity
        owners[ref] = source
    return entities, owners


def _lay(
    body: dict[str, Any],
    like: Callable[[], Like],
    refs: list[str],
    slots: list[Any],
    moved: dict[int, str],
    later: dict[str, tuple[str, Any]],
    at: dict[str, int],
) -> None:
    """One frame's entities over the newest so far: its flagged ones in their keyframe
    places (``slots``), the others in their place there with their own source
    (``moved``) or after the keyframe's (``later``)."""
    flags, others, other_sources = body["n"]
    known = like().known
    if known is None:
        raise ValueError("damaged entities: flagged without a keyframe's")
    marks = known.marks(flags)
    bodies = _RAWS.decode(inflate(body["E"], like())) if "E" in body else []
    places = list(selected(known.order, marks))
    apart = len(bodies) - len(places)
    if not isinstance(others, list) or not len(others) == len(other_sources) == apart:
        raise ValueError("damaged entities: not one source and body a ref")
    list(map(slots.__setitem__, places, bodies))
    if moved:  # flagged: the keyframe's source again
        for place in places:
            moved.pop(place, None)
    if others:
        if not at:
            at.update((ref, place) for place, ref in enumerate(refs))
        for ref, source, entity in zip(others, other_sources, bodies[len(places) :],
                                       strict=True):  # fmt: skip
            place = at.get(ref)
            if place is None:
                later[ref] = (source, entity)
            else:
                slots[place] = entity
                moved[place] = source


def payloads(bodies: list[Any]) -> list[bytes]:
    """The recorded bodies as ``bytes``: each ``msgspec.Raw`` (a ``bin``) unwrapped,
    all of them in one decode."""
    raws = [place for place, body in enumerate(bodies) if body.__class__ is not bytes]
    if not raws:
        return bodies
    made = list(bodies)
    header = struct.pack(">BI", 0xDD, len(raws))  # array 32: any count
    unwrapped = _BODIES.decode(header + b"".join([bodies[place] for place in raws]))
    for place, body in zip(raws, unwrapped, strict=True):
        made[place] = body
    return made
