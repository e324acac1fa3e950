"""A seek's entities taken all frames at once (``recording.entities``) are what a dict
updated frame by frame held: the same bodies, sources and order, in every case a
frame can list them (flagged, apart with another source, new, removed)."""

from __future__ import annotations

import functools
import os
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from console.recording import reader
from console.recording.codec import (
    Like,
    common_prefixes,
    deflate,
    encode,
    inflate,
    patch,
    patched,
    patches,
)
from console.recording.entities import latest_entities
from console.recording.reader import _like
from console.recording.recorder import _entity_parts
from tests.unit.recording_versions import deflate_like

KEYFRAME = {f"gpu/n{i}/{g}": ("sim", {"name": f"g{g}", "attrs": {"util": i}})
            for i in range(40) for g in range(4)}  # fmt: skip


def _frames(
    cycles: list[tuple[dict[str, tuple[str, Any]], list[str]]], version: int = 8
) -> list[Any]:
    """Frames as the recorder writes them: each cycle's changed entities (by ref:
    source and body) and the refs it removed; the first a keyframe. Version 7's
    bodies whole (``E``), compressed like the keyframe's."""
    like: list[Like] = []
    frames = []
    for number, (entities, removed) in enumerate(cycles):
        refs = list(entities)
        sources = [source for source, _body in entities.values()]
        bodies = [encode(body) for _source, body in entities.values()]
        cycle = SimpleNamespace(entities=(refs, sources, bodies), keyframe=number == 0)
        parts = _entity_parts(cycle, like)  # type: ignore[arg-type]
        if version == 7 and "P" in parts:
            ordered = like[0].known.flag(refs, sources, bodies)[2]  # type: ignore[union-attr]
            parts["E"] = deflate_like(like[0], encode(ordered))
            del parts["P"]
        frames.append((float(number), {**parts, "x": removed}))
    return frames


def _frame_by_frame(frames: list[Any]) -> tuple[dict[str, bytes], dict[str, str]]:
    """What the reader does where it cannot take them at once: a dict updated with
    each frame's, then popped."""
    return reader._frame_by_frame(frames, functools.partial(_like, frames[0][1]))


def _at_once(frames: list[Any]) -> tuple[dict[str, bytes], dict[str, str]] | None:
    made = latest_entities(frames, functools.partial(_like, frames[0][1]))
    if made is None:
        return None
    entities, sources = made
    assert all(body.__class__ is bytes for body in entities.values())
    return entities, sources


def _changed(refs: list[str], tag: int, source: str = "sim") -> dict[str, tuple[str, Any]]:
    return {ref: (source, {"name": ref, "attrs": {"tag": tag}}) for ref in refs}


CASES = {
    "flagged in every frame": [
        (_changed(["gpu/n1/0", "gpu/n2/3"], 1), []),
        (_changed(["gpu/n2/3", "gpu/n7/1"], 2), []),
    ],
    "new ones after the keyframe's, one removed and back": [
        (_changed(["job/1", "gpu/n3/0"], 1), []),
        (_changed(["job/2"], 2), ["job/1"]),
        (_changed(["job/1"], 3), []),
    ],
    "a keyframe's entity from another source, then its own again": [
        (_changed(["gpu/n4/2"], 1, source="other"), []),
        (_changed(["gpu/n5/2"], 2), []),
        (_changed(["gpu/n4/2"], 3), []),
    ],
    "a keyframe's entity from another source at the end": [
        (_changed(["gpu/n4/2", "gpu/n6/1"], 1), []),
        (_changed(["gpu/n4/2"], 2, source="other"), []),
    ],
    "listed and removed in one frame": [
        (_changed(["job/9"], 1), ["job/9"]),
    ],
    "a cycle that changed none between": [
        (_changed(["gpu/n1/0", "job/5"], 1), []),
        ({}, []),
        (_changed(["gpu/n1/0"], 2), ["job/5"]),
    ],
}


@pytest.mark.parametrize("version", [7, 8])
@pytest.mark.parametrize("name", list(CASES))
def test_all_frames_at_once_are_what_frame_by_frame_was(name: str, version: int) -> None:
    frames = _frames([(KEYFRAME, []), *CASES[name]], version)
    written = [("P" if version == 8 else "E") in body or body["B"] == [] for _t, body in frames[1:]]
    assert all(written)  # (a cycle that changed none: no part)
    expected = _frame_by_frame(frames)
    made = _at_once(frames)
    assert made is not None
    assert list(made[0].items()) == list(expected[0].items())
    assert list(made[1].items()) == list(expected[1].items())


def test_a_keyframe_entity_removed_leaves_the_frames_to_the_caller() -> None:
    """Its place would move to the end if it came back: the caller's dict does that."""
    frames = _frames([(KEYFRAME, []), (_changed(["gpu/n1/1"], 1), ["gpu/n1/0"])])
    assert _at_once(frames) is None
    assert "gpu/n1/0" not in _frame_by_frame(frames)[0]


def test_a_frame_whose_bodies_do_not_match_its_flags_is_damaged() -> None:
    frames = _frames([(KEYFRAME, []), (_changed(["gpu/n1/1", "job/3"], 1), [])])
    flags, others, sources = frames[1][1]["n"]
    frames[1][1]["n"] = [flags, [*others, "job/4"], [*sources, "sim"]]
    with pytest.raises(ValueError, match="damaged entities"):
        _at_once(frames)
    frames[1][1]["n"] = [flags, others, "s"]  # sources not a list (one a character)
    with pytest.raises(ValueError, match="damaged entities"):
        _at_once(frames)


def test_a_keyframe_of_the_same_entities_takes_the_last_ones_known_order() -> None:
    """Made once for a stable fleet (4 ms a seek at 1,000 nodes), again for another."""
    first = _frames([(KEYFRAME, [])])[0][1]
    known = _like(first).known
    assert known is not None
    again = _frames([(dict(KEYFRAME), [])])[0][1]  # another keyframe, equal refs and sources
    assert _like(again, known).known is known
    moved = dict(KEYFRAME)
    moved["gpu/n0/0"] = ("other", moved["gpu/n0/0"][1])
    other = _like(_frames([(moved, [])])[0][1], known).known
    assert other is not known and other is not None
    assert other.sources[other.refs.index("gpu/n0/0")] == "other"


def _shared(body: bytes, base: bytes) -> int:
    """Leading bytes alike, one compared at a time."""
    count = 0
    while count < min(len(body), len(base)) and body[count] == base[count]:
        count += 1
    return count


def test_common_prefixes_are_the_bytes_each_shares_with_its_base() -> None:
    short = [(b"abcdef", b"abcxef"), (b"abc", b"abc"), (b"", b""), (b"\0\0x", b"\0\0y"),
             (b"abcdef", b"abc"), (b"ab", b"abzz"), (b"zz", b"ab"), (b"\0", b"\0\0")]  # fmt: skip
    body = bytes(range(40)) * 10  # 400 bytes: the last 32 compared as a number
    long = [(body, body), (body[:-1] + b"\xff", body), (body[:-31] + b"\0" * 31, body),
            (body[:-32] + b"\xff" * 32, body), (b"\0" + body[1:], body),
            (body[:100] + b"\xff" + body[101:], body),
            (body[:-33] + b"\xff" + body[-32:], body)]  # fmt: skip
    for pairs in (short, long, long[:4], [*long, (body, body[:-1])]):
        expected = [_shared(body, base) for body, base in pairs]
        assert common_prefixes(*zip(*pairs, strict=True)) == expected


def test_patches_give_the_bodies_back_and_refuse_what_no_base_holds() -> None:
    bases = [b"\x81\xa1a\x01", b"\x81\xa1a\x02"]
    bodies = [b"\x81\xa1a\x05", b"\x81\xa1a\x02", b"\x81\xa1b\x07"]  # the last apart
    part = patch(bodies, bases)
    kept, tails = patches(part, len(bases))
    assert kept == [3, 4, 0]
    assert patched([*bases, b""], kept, tails) == bodies
    with pytest.raises(ValueError, match="damaged entities"):
        patched(bases, [5, 0], [b"", b""])  # more than its base holds
    with pytest.raises(ValueError, match="damaged entities"):
        patched(bases, [-1, 0], [b"", b""])  # a slice from the end
    with pytest.raises(ValueError, match="damaged entities"):
        patches(deflate(encode([[1, 2, 3], [b"", b"", b""]])), 2)  # one apart keeps some
    with pytest.raises(ValueError, match="damaged entities"):
        patches(deflate(encode([[1], [b"", b""]])), 2)


def test_parts_inflate_right_in_two_threads_at_once() -> None:
    """The recorder's writer and a rewind's reader both inflate: each thread its own
    Zstandard decompressor (one shared gave wrong bytes and errors, found in review)."""
    wholes = [bytes([seed]) * 7 + os.urandom(1 << 14) * 32 for seed in range(2)]  # 512 kB
    parts = [deflate(whole) for whole in wholes]
    wrong: list[str] = []
    rounds = 150

    def inflate_often(which: int) -> None:
        for _ in range(rounds):
            try:
                if inflate(parts[which]) != wholes[which]:
                    wrong.append("wrong bytes")
            except ValueError as exc:
                wrong.append(str(exc))

    threads = [threading.Thread(target=inflate_often, args=(which,)) for which in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
