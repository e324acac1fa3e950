"""What recorders of older versions wrote, for the tests that read it back: the
console writes only the newest version, and reads every one since version 2."""

from __future__ import annotations

from itertools import compress as selected

import zstandard

from console.recording.codec import Known, Like, deflate


def marked(
    known: Known, refs: list[str], sources: list[str], bodies: list[bytes]
) -> tuple[bytes, tuple[list[str], list[str], list[bytes]], list[bytes]]:
    """A frame's entities as versions 7 and 8 name them: :meth:`Known.flag` with its
    flags compressed."""
    flags, others, ordered = known.flag(refs, sources, bodies)
    return deflate(bytes(flags)), others, ordered


def unmarked(known: Known, flags: bytes) -> tuple[list[str], list[str]]:
    """The refs and sources a frame's compressed flags name."""
    marks = known.marks(flags)
    return list(selected(known.refs, marks)), list(selected(known.sources, marks))


def deflate_like(like: Like, data: bytes) -> bytes:
    """A part compressed with a keyframe's entity bodies as its dictionary, as versions
    3 to 7 wrote a frame's entities (``E``)."""
    return zstandard.ZstdCompressor(dict_data=like.dictionary).compress(data)
