"""A seek's entities: the newest recorded body of each, from a keyframe and the frames
after it, made in C where a loop can be.

At 1,000 simulated nodes a keyframe holds 13,000 entities and each frame after it the
5,500 GPUs whose processes' shares moved. Taken frame by frame as refs and bytes (one
dict update a frame, a bytes object a body) nine frames cost a seek ~35 ms. Here a
frame's flags say which of the keyframe's places its bodies go to, each the bytes
after those it shares with its keyframe's since version 8 (``codec.patch``), a view
into the frame's inflated part before (``msgspec.Raw``), and only the newest of each
is made whole, all at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import compress as selected
from itertools import repeat
from operator import is_not
from typing import Any

import msgspec

from console.recording.codec import Like, inflate, patched, patches, payloads

_RAWS = msgspec.msgpack.Decoder(list[msgspec.Raw])


def latest_entities(
    frames: Sequence[tuple[float, dict[str, Any]]], like: Callable[[], Like]
) -> tuple[dict[str, bytes], dict[str, str]] | None:
    """Each entity's newest body and its source by ref, in the order a dict updated
    frame by frame would hold them (the keyframe's first), the bodies as ``bytes``;
    ``None`` when the frames are not all of version 7 and later (a keyframe's ``r``
    and ``B``, its frames' flags ``n``), or a frame removes one of the keyframe's
    entities (its place would move): the caller takes them frame by frame. ValueError
    when damaged."""
    key_body = frames[0][1]
    if "r" not in key_body or "B" not in key_body:
        return None
    if not all(map(_flagged_or_none, frames[1:])):
        return None
    refs, sources = key_body["r"]
    newest = _Newest(refs, key_body["B"])
    if len(sources) != len(refs):
        raise ValueError("damaged entities: not one source and body a ref")
    keyed: set[str] | None = None  # the keyframe's refs, made only when a frame removes any
    for number, (_time, body) in enumerate(frames):
        if number > 0 and "n" in body:
            newest.lay(body, like)
        removed = body.get("x") or []
        if removed:  # (after the frame's own, as a dict updated then popped)
            keyed = set(refs) if keyed is None else keyed
            if not keyed.isdisjoint(removed):
                return None
            for ref in removed:
                newest.later.pop(ref, None)
    return newest.made(sources)


def _flagged_or_none(frame: tuple[float, dict[str, Any]]) -> bool:
    """Whether a frame after the keyframe flags its entities, or changed none (written
    as a keyframe's, two empty lists: a stable fleet's cycle)."""
    body = frame[1]
    return "n" in body or (body.get("r") == [[], []] and body.get("B") == [] and "E" not in body)


class _Newest:
    """The newest body of each entity so far: the keyframe's places, and after them
    the entities it has not (:attr:`later`)."""

    def __init__(self, refs: list[str], bases: list[bytes]) -> None:
        if len(refs) != len(bases):
            raise ValueError("damaged entities: not one source and body a ref")
        self.refs, self.bases = refs, bases
        self.tails: list[Any] = [None] * len(refs)
        """A frame's body at each place it was laid (``bytes`` or a ``msgspec.Raw``),
        or ``None``."""
        self.kept: list[Any] = [None] * len(refs)
        """How many leading bytes of the keyframe's body the tail there follows."""
        self.moved: dict[int, str] = {}
        """A keyframe's place listed apart, with another source."""
        self.later: dict[str, tuple[str, Any]] = {}
        """Refs the keyframe has not: (source, body)."""
        self._at: dict[str, int] = {}

    def lay(self, body: dict[str, Any], like: Callable[[], Like]) -> None:
        """One frame's entities over the newest so far: its flagged ones in their
        keyframe places, the others in their place there with their own source
        (:attr:`moved`) or after the keyframe's (:attr:`later`)."""
        flags, others, other_sources = body["n"]
        known = like().known
        if known is None:
            raise ValueError("damaged entities: flagged without a keyframe's")
        marks = known.marks(flags)
        places = list(selected(known.order, marks))
        bodies: list[Any]
        if "P" in body:  # since version 8: the bytes after those kept of the keyframe's
            kept, bodies = patches(body["P"], len(places))
        else:
            bodies = _RAWS.decode(inflate(body["E"], like())) if "E" in body else []
            kept = [0] * len(bodies)
        apart = len(bodies) - len(places)
        if not isinstance(others, list) or not isinstance(other_sources, list):
            raise ValueError("damaged entities: not one source and body a ref")
        if not len(others) == len(other_sources) == apart:
            raise ValueError("damaged entities: not one source and body a ref")
        list(map(self.tails.__setitem__, places, bodies))
        list(map(self.kept.__setitem__, places, kept))
        if self.moved:  # flagged: the keyframe's source again
            for place in places:
                self.moved.pop(place, None)
        if others:
            if not self._at:
                self._at.update((ref, place) for place, ref in enumerate(self.refs))
            for ref, source, entity in zip(others, other_sources, bodies[len(places) :],
                                           strict=True):  # fmt: skip
                place = self._at.get(ref)
                if place is None:
                    self.later[ref] = (source, entity)
                else:
                    self.tails[place], self.kept[place] = entity, 0
                    self.moved[place] = source

    def made(self, sources: list[str]) -> tuple[dict[str, bytes], dict[str, str]]:
        """The bodies by ref as ``bytes`` (compared with the last seek's by content, as
        the keyframe's are; no frame's inflated part kept alive by a view into it),
        and the sources by ref."""
        bodies = list(self.bases)
        laid = list(selected(range(len(bodies)), map(is_not, self.tails, repeat(None))))
        if laid:
            bases = list(map(bodies.__getitem__, laid))
            tails = payloads(list(map(self.tails.__getitem__, laid)))
            made = patched(bases, list(map(self.kept.__getitem__, laid)), tails)
            list(map(bodies.__setitem__, laid, made))
        entities = dict(zip(self.refs, bodies, strict=True))
        owners = dict(zip(self.refs, sources, strict=True))
        for place, source in self.moved.items():
            owners[self.refs[place]] = source
        news = payloads([entity for _source, entity in self.later.values()])
        for (ref, (source, _raw)), entity in zip(self.later.items(), news, strict=True):
            entities[ref] = entity
            owners[ref] = source
        return entities, owners
