"""Entities a seek restores from a recording, each with its attrs decoded when first read.

At 1,000 simulated nodes a seek makes ~5,500 GPU entities anew (their processes' shares
move every cycle, as NVML's do). Decoding their attrs (a dict, a process list and a
dozen strings each) was a fifth of the seek's CPU, and freeing them at the next seek
another tenth; the overview, the fabric and the jobs panes, ``explain --at`` and the
walk from a job to its link never read them. A :class:`RestoredEntity` keeps its
recorded body in the attrs slot until the attrs are read, then decodes them once.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, cast

import msgspec

from console.core.model import Entity
from console.recording.codec import msgpack_array

_SLOT = Entity.__dict__["attrs"]
"""Entity's own attrs slot: a restored entity's recorded body until read, then its attrs."""


class _Head(msgspec.Struct):
    """A recorded entity without its attrs (the decoder skips them, in C)."""

    ref: str
    name: str
    parent: str | None = None


class _Attrs(msgspec.Struct):
    """A recorded entity's attrs alone."""

    attrs: dict[str, Any] = {}


_HEADS = msgspec.msgpack.Decoder(list[_Head])
_ATTRS = msgspec.msgpack.Decoder(_Attrs)
_REF, _NAME, _PARENT = attrgetter("ref"), attrgetter("name"), attrgetter("parent")


class RestoredEntity(Entity):
    """An :class:`Entity` whose attrs are decoded from its recorded body when first read
    (by any reader: a pane, ``snapshot``, ``msgspec``, ``dataclasses.asdict``); equal to
    an :class:`Entity` of the same fields, either way round."""

    __slots__ = ()

    @property  # (Entity's field, read through this)
    def attrs(self) -> dict[str, Any]:
        value = _SLOT.__get__(self)
        if value.__class__ is bytes:  # (two threads reading at once decode it twice, alike)
            value = _decoded_attrs(value)
            _SLOT.__set__(self, value)
        return value

    @attrs.setter
    def attrs(self, value: dict[str, Any]) -> None:
        _SLOT.__set__(self, value)

    def __eq__(self, other: object) -> bool:
        # (a dataclass's own __eq__ takes only its exact class: an Entity was unequal)
        if not isinstance(other, Entity):
            return NotImplemented
        return (self.ref, self.name, self.parent, self.attrs) == (
            other.ref, other.name, other.parent, other.attrs)  # fmt: skip

    __hash__ = None  # type: ignore[assignment]  # (mutable, as Entity is)


def _decoded_attrs(body: bytes) -> dict[str, Any]:
    """A body's attrs; those the seek could not see were damaged (its decoder skips
    them whole: a string of bytes that are no UTF-8 passes) say so in their place, as
    plain text: a reader of the attrs (a pane, ``snapshot``) never meets an error."""
    try:
        return _ATTRS.decode(body).attrs
    except (msgspec.DecodeError, ValueError, RecursionError) as exc:
        # (RecursionError: nesting the seek skipped near the decoder's depth, which
        # counts the reader's stack: a pane's draw reads deeper than the seek's thread)
        return {"damaged": f"recorded attrs unreadable: {exc}"}


def restored_entities(bodies: list[bytes]) -> list[Entity]:
    """Entities of these recorded bodies (each one msgpack map of an entity's fields):
    refs, names and parents decoded at once in C, each body kept for its attrs.
    ValueError (msgspec's) when one is damaged."""
    heads = _HEADS.decode(msgpack_array(bodies))
    slots = cast("list[dict[str, Any]]", bodies)  # (each body in its attrs slot until read)
    return list(map(RestoredEntity, map(_REF, heads), map(_NAME, heads), map(_PARENT, heads),
                    slots))  # fmt: skip
