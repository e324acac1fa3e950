"""How a recorded cycle (a *frame*) is laid out in bytes.

A frame is one msgpack document (msgspec), compressed with Zstandard. Its readings are
columns: the keys ``(ref, metric)`` of a batch are written once as a *schema* and
referred to by number while a source keeps sending the same keys in the same order
(every poll of a simulator or an agent does), so a cycle costs its values alone.
Values are float64 with NaN for *not available*, byte-shuffled (all first bytes,
then all second bytes, ...) so that the exponent bytes, which barely move, sit
together and compress to almost nothing.
"""

from __future__ import annotations

import math
import struct
import sys
import threading
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from itertools import compress as selected
from itertools import pairwise, repeat
from operator import add, eq, floordiv, gt, itemgetter, mod, mul, ne, sub, truediv, xor
from typing import Any, cast

import msgspec
import zstandard

FORMAT_VERSION = 8
"""Version of the recording's layout a recorder writes (8: a frame's entities flagged
among its keyframe's as what follows the bytes they share with it, :func:`patch`;
7: a column of short decimals
written as integers, :data:`DECIMAL`; 6: a schema's keys as runs of
entities with the same metrics, :func:`pack_keys`; 5: a keyframe's job history as
two float columns, :func:`pack_history`; 4: a schema's value columns grouped by metric;
3: value columns between keyframes XORed against their keyframe's; 2: without; 1: zlib
parts)."""
READABLE_VERSIONS = ("2", "3", "4", "5", "6", "7", "8")
"""What a reader opens: each batch says how its column is laid out (:data:`XORED`,
:data:`GROUPED`, :data:`DECIMAL`), a keyframe's history is a map of points before
version 5, a schema two lists before version 6 and a frame's entities whole before
version 8 (``E``, not ``P``), so an older recording is a version 8 one without them."""
XORED = 1
GROUPED = 2
DECIMAL = 4
"""Flags of a batch (its seventh part, absent when none): its values are XORed against
its schema's in the keyframe's frame; they are grouped by metric (:class:`MetricOrder`);
they are decimals with ``flags >> 4`` digits after the point, written as integers
(:func:`pack_decimals`; XORED with it: as their difference from the keyframe's)."""
INLINE_SCHEMA = 16
"""Batches with fewer keys carry them inline (no schema row for a one-off batch). More
carry a schema's number: a batch of 255 jobs' throughput repeated its keys, 6 kB
uncompressed, in every frame at 1,000 nodes (256 before version 7)."""
ZSTD_LEVEL = 1
"""Zstandard level 1: on 1,000 nodes' value columns 4x faster than zlib's level 1 and
8 % smaller (bench/recording.py; zlib's compression was most of the recorder's CPU)."""

MAX_INFLATED = 1 << 30
"""Most bytes one compressed part may grow to: a recording from elsewhere is read
with bounds like any other input (a zip bomb is refused, not unpacked)."""
MAX_KEYS = MAX_INFLATED // 8
"""Most keys a schema may claim: as many as a column of 8-byte values one inflated part
holds (a schema's runs multiply counts, so a small part could claim billions)."""

NAN = math.nan


class _Zstd(threading.local):
    """A compressor and a decompressor for each thread: Zstandard's are not to be used
    by two threads at once (the recorder's writer and a rewind's reader both inflate:
    a shared one gave a healthy seek wrong bytes, found in review)."""

    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self.decompressor = zstandard.ZstdDecompressor()


_zstd = _Zstd()
_encoder = msgspec.msgpack.Encoder(enc_hook=str)
_decoder = msgspec.msgpack.Decoder()


encode: Callable[[Any], bytes] = _encoder.encode
"""msgpack bytes; anything msgpack has no type for is written as its ``str``. The
encoder's own method, no wrapper: the recorder calls it once per entity per cycle."""


def decode(data: bytes) -> Any:
    """The value :func:`encode` wrote."""
    return _decoder.decode(data)


def deflate(data: bytes) -> bytes:
    """One part compressed (Zstandard, :data:`ZSTD_LEVEL`; its size in the header)."""
    return _zstd.compressor.compress(data)


def inflate(data: bytes, like: Like | None = None) -> bytes:
    """A part :func:`deflate` wrote (or, before version 8, one compressed ``like`` a
    keyframe's entities), with :data:`MAX_INFLATED` as its bound; ValueError past it,
    without its size (every part written here has it) or not a part."""
    try:
        size = zstandard.frame_content_size(data)
        if size > MAX_INFLATED:
            raise ValueError(f"a part grows past {MAX_INFLATED} bytes")
        if size < 0:
            raise ValueError("a part that does not say its size")
        return (_zstd.decompressor if like is None else like.decompressor()).decompress(data)
    except zstandard.ZstdError as exc:
        raise ValueError(str(exc)) from None


class Like:
    """A keyframe's entity bodies, which the frames after it write theirs against:
    since version 8 each as the bytes that follow those it shares with its keyframe's
    body (:func:`patch`); before, compressed with them as a Zstandard dictionary of raw
    content (5,400 changed GPUs a frame at 1,000 simulated nodes, their processes'
    shares moved and little else: 163 -> 43 kB a frame; patched, 7.5 kB). The
    dictionary is made only when a part asks for it (a version 8 reader never does)."""

    def __init__(self, bodies: list[bytes]) -> None:
        self.bodies = bodies
        """The keyframe's entity bodies, in its order."""
        self._dictionary: zstandard.ZstdCompressionDict | None = None
        self._ordered: list[bytes] | None = None
        self._decompressor: zstandard.ZstdDecompressor | None = None
        self.known: Known | None = None
        """The keyframe's entities, where they are known (:class:`Known`)."""

    @property
    def dictionary(self) -> zstandard.ZstdCompressionDict:
        """The bodies one after another as a dictionary of raw content (made once)."""
        if self._dictionary is None:
            # Never empty (zstandard refuses an empty dictionary): a byte both sides add.
            self._dictionary = zstandard.ZstdCompressionDict(
                b"".join([b"\0", *self.bodies]), dict_type=zstandard.DICT_TYPE_RAWCONTENT
            )
        return self._dictionary

    def ordered(self) -> list[bytes]:
        """The bodies in :attr:`known`'s order (made once), what a frame's flags pick."""
        if self._ordered is None:
            if self.known is None:
                raise ValueError("damaged entities: flagged without a keyframe's")
            self._ordered = list(map(self.bodies.__getitem__, self.known.order))
        return self._ordered

    def decompressor(self) -> zstandard.ZstdDecompressor:
        """What :func:`inflate` reads parts compressed like these bytes with: one for
        every part (a new one a part loaded the 2 MB dictionary again each time)."""
        if self._decompressor is None:
            self._decompressor = zstandard.ZstdDecompressor(dict_data=self.dictionary)
        return self._decompressor


_TAIL = 32
"""The last bytes of a body :func:`common_prefixes` compares as a number (where a GPU's
process share sits); the rest it compares whole first."""


def common_prefixes(bodies: Sequence[bytes], bases: Sequence[bytes]) -> list[int]:
    """How many leading bytes each body shares with its base. In C for bodies as long
    as their bases whose difference lies in their last :data:`_TAIL` bytes (a GPU
    whose process share moved: its last byte or two of ~390): the rest compared whole,
    the tails as big-endian integers XORed, whose highest set bit is in the first byte
    that differs. Any other body a byte string at a time (5,500 a frame at 1,000 nodes:
    12 -> 5.5 ms)."""
    sizes = list(map(len, bodies))
    if sizes != list(map(len, bases)) or min(sizes, default=_TAIL) < _TAIL:
        return list(map(_common_prefix, bodies, bases))
    head, tail = slice(None, -_TAIL), slice(-_TAIL, None)
    cut = bytes.__getitem__
    alike = list(map(eq, map(cut, bodies, repeat(head)), map(cut, bases, repeat(head))))
    differ = map(xor, map(int.from_bytes, map(cut, bodies, repeat(tail))),
                 map(int.from_bytes, map(cut, bases, repeat(tail))))  # fmt: skip
    spans = map(floordiv, map(add, map(int.bit_length, differ), repeat(7)), repeat(8))
    kept = list(map(sub, sizes, spans))
    if all(alike):
        return kept
    pairs = zip(kept, alike, bodies, bases, strict=True)
    return [count if same else _common_prefix(body, base) for count, same, body, base in pairs]


def _common_prefix(body: bytes, base: bytes) -> int:
    size = min(len(body), len(base))
    differ = int.from_bytes(body[:size]) ^ int.from_bytes(base[:size])
    return size - (differ.bit_length() + 7) // 8


def patch(bodies: list[bytes], bases: list[bytes]) -> bytes:
    """A frame's entity bodies against their keyframe's (``bases``, one each for the
    first bodies; the rest whole): how many leading bytes of its base each keeps, and
    the bytes after them; one msgpack pair, compressed (:func:`patches` reads it,
    :func:`patched` makes the bodies again)."""
    kept = common_prefixes(bodies[: len(bases)], bases) + [0] * (len(bodies) - len(bases))
    tails = list(map(bytes.__getitem__, bodies, map(slice, kept, repeat(None))))
    return deflate(encode([kept, tails]))


_PATCHED = msgspec.msgpack.Decoder(tuple[list[int], list[bytes]])
_BODIES = msgspec.msgpack.Decoder(list[bytes])


def msgpack_array(items: list[Any]) -> bytes:
    """Items each already msgpack (bytes or views) as one msgpack array of them."""
    return struct.pack(">BI", 0xDD, len(items)) + b"".join(items)  # array 32: any count


def payloads(bodies: list[Any]) -> list[bytes]:
    """The recorded bodies as ``bytes``: each ``msgspec.Raw`` (a ``bin``) unwrapped,
    all of them in one decode."""
    raws = [place for place, body in enumerate(bodies) if body.__class__ is not bytes]
    if not raws:
        return bodies
    made = list(bodies)
    unwrapped = _BODIES.decode(msgpack_array([bodies[place] for place in raws]))
    for place, body in zip(raws, unwrapped, strict=True):
        made[place] = body
    return made


def patches(part: bytes, bases: int) -> tuple[list[int], list[bytes]]:
    """What :func:`patch` wrote: how much of its base each body keeps, and the rest of
    it (a byte or two mostly: CPython makes no object for one); ValueError when
    damaged (a count that is no length of its base is checked by :func:`patched`)."""
    kept, tails = _PATCHED.decode(inflate(part))
    if len(kept) != len(tails) or len(tails) < bases or any(kept[bases:]):
        raise ValueError("damaged entities: not one kept length a body")
    return kept, tails


def patched(bases: Sequence[bytes], kept: Sequence[int], tails: Sequence[bytes]) -> list[bytes]:
    """Each body again: ``kept`` bytes of its base, then its tail; ValueError when a
    count is more than its base holds or negative (a slice would take other bytes)."""
    if kept and (min(kept) < 0 or max(map(sub, kept, map(len, bases))) > 0):
        raise ValueError("damaged entities: a body keeps more than its keyframe's")
    heads = map(bytes.__getitem__, bases, map(slice, repeat(0), kept))
    return list(map(add, heads, tails))


STRIDES = (7919, 7927, 7933)
"""Primes, one of which steps through a keyframe's entities (:class:`Known`)."""


_NOWHERE = object()
"""The source of an entity a keyframe has not (equal to none)."""


class Known:
    """A keyframe's entities (refs and sources) in a fixed scattered order: those of a
    later frame among them are written as one flag each (changed or not, in this order:
    1.8 kB compressed for 10,000 entities), not by name (14.5 kB a frame at 1,000
    nodes, half of them changed; bench/recording.py). Scattered, not the keyframe's
    order: neighbours there are alike (a node's GPUs), and bodies written next to an
    alike one are compressed against it rather than against their own in the keyframe
    (``Like``): 43 -> 58 kB a frame in the keyframe's order, 43 in this one."""

    def __init__(self, refs: list[str], sources: list[str]) -> None:
        count = len(refs)
        # 1 where none is prime to the count (none: a keyframe of no entity at all).
        stride = next((p for p in STRIDES if count % p), 1)
        order = list(map(mod, map(mul, range(count), repeat(stride)), repeat(count or 1)))
        self.order = order
        """The place in the keyframe of each one, in this order."""
        self.refs = list(map(refs.__getitem__, order))
        self.sources = list(map(sources.__getitem__, order))
        self._place: dict[str, int] | None = None
        self._given = (refs, sources)

    def same(self, refs: list[str], sources: list[str]) -> bool:
        """Whether these are the refs and sources it was made of (compared in C)."""
        return self._given[0] == refs and self._given[1] == sources

    def flag(
        self, refs: list[str], sources: list[str], bodies: list[bytes]
    ) -> tuple[bytearray, tuple[list[str], list[str], list[bytes]], list[bytes]]:
        """A frame's entities as the flags of those known with the same source, a byte
        each in this order (:meth:`marks` reads them back compressed), the others (refs,
        sources, bodies) as they are, and every body in that order: the flagged ones'
        then the others' (the writer picks the flagged ones' keyframe bodies with the
        flags)."""
        count = len(self.refs)
        if self._place is None:
            self._place = dict(zip(self.refs, range(count), strict=True))
        flags = bytearray(count)
        slots: list[bytes | None] = [None] * count
        others: tuple[list[str], list[str], list[bytes]] = ([], [], [])
        # Each one's place (``count``, past the end: none), then whether it has the
        # source it had there: for every entity, in C (5,400 a frame at 1,000 nodes).
        places = list(map(self._place.get, refs, repeat(count)))
        same = list(map(eq, map([*self.sources, _NOWHERE].__getitem__, places), sources))
        if all(same) and len(set(places)) == len(places):  # (a frame's refs are unique)
            list(map(flags.__setitem__, places, repeat(1)))
            list(map(slots.__setitem__, places, bodies))
        else:
            for ref, source, body, at, kept in zip(refs, sources, bodies, places, same,
                                                   strict=True):  # fmt: skip
                if kept and not flags[at]:
                    flags[at] = 1
                    slots[at] = body
                else:
                    others[0].append(ref)
                    others[1].append(source)
                    others[2].append(body)
        ordered = cast("list[bytes]", list(selected(slots, flags)))
        return flags, others, ordered + others[2]

    def marks(self, flags: bytes) -> bytes:
        """:meth:`flag`'s flags compressed, as a byte each (1: flagged) in this order;
        ValueError when damaged."""
        try:
            marks = inflate(flags)
        except ValueError as exc:
            raise ValueError(f"damaged entities: {exc}") from None
        if len(marks) != len(self.refs):
            raise ValueError("damaged entities: not one flag a keyframe's entity")
        return marks


def float_bytes(values: Sequence[float | None]) -> bytes:
    """A float64 column's bytes, ``None`` as NaN (what :func:`pack_floats` XORs against).
    Packed by ``struct`` (3x faster than ``array`` from a list), the ``None`` looked for
    only when it refuses one (``None in values`` was a compare a value); TypeError for
    what is no number."""
    count = len(values)
    try:
        return struct.pack(f"{count}d", *values)
    except struct.error:
        pass
    if values[0] is None and values.count(None) == count:  # no entity says it (no ECC)
        return _NAN_BYTES * count
    try:
        return struct.pack(f"{count}d", *[NAN if v is None else v for v in values])
    except struct.error as exc:
        raise TypeError(f"not a float column: {exc}") from None


_NAN_BYTES = struct.pack("d", NAN)


def pack_floats(values: Sequence[float | None] | bytes, against: bytes | None = None) -> bytes:
    """Float64 column, ``None`` as NaN, byte-shuffled and compressed on its own (a seek
    opens only the columns it needs); or its :func:`float_bytes` already made. ``against``:
    the :func:`float_bytes` of the same keys' column in the keyframe, XORed in first: a
    series that kept its value, or its exponent and first digits, leaves zero bytes
    (value columns 2.7 -> 2.1 B/sample at 1,000 simulated nodes, bench/recording.py)."""
    raw = values if isinstance(values, bytes) else float_bytes(values)
    if isinstance(against, Against):
        raw = against.xor(raw)
    elif against is not None:
        raw = _xor(raw, against)
    return deflate(_shuffle(raw))


def _shuffle(raw: bytes) -> bytes:
    """8-byte numbers' first bytes, then their second bytes, ... (alike bytes together)."""
    return b"".join(raw[i::8] for i in range(8))


def _unshuffle(shuffled: bytes) -> bytearray:
    """What :func:`_shuffle` was given."""
    count = len(shuffled) // 8
    raw = bytearray(len(shuffled))
    for i in range(8):
        raw[i::8] = shuffled[i * count : (i + 1) * count]
    return raw


def unpack_floats(data: bytes, against: bytes | None = None) -> array[float]:
    """The column :func:`pack_floats` wrote (NaN where ``None`` was), with the same
    ``against``."""
    try:
        shuffled = inflate(data)
    except ValueError as exc:
        raise ValueError(f"damaged column: {exc}") from None
    column = array("d")
    if against is not None and len(shuffled) == len(against) and not any_set(shuffled):
        column.frombytes(against)  # the keyframe's values again: nothing to undo
        return column
    raw = _unshuffle(shuffled)
    column.frombytes(raw if against is None else _xor(raw, against))
    return column


DIGITS = (1, 2, 3)
"""Digits after the point a column of decimals is written with (:func:`pack_decimals`)."""
SAMPLED = 32
"""Values of a column looked at to guess its digits (:func:`decimal_digits`)."""


def decimal_digits(values: Sequence[float | None]) -> int:
    """The fewest digits after the point (1 to 3) that write a sample of the values
    exactly, as ``round(v * 10**digits) / 10**digits`` does; 0 when none does or every
    one is a whole number (a column of whole numbers XORs well as floats). A guess:
    :func:`pack_decimals` checks every value."""
    # A list, whatever ``values`` are (MetricOrder.group gives a tuple but for a grid,
    # and a tuple is never equal to the list it is compared with below).
    sample = list(values[:: max(1, len(values) // SAMPLED)])
    try:
        if all(map(float.is_integer, cast("list[float]", sample))):
            return 0
        for digits in DIGITS:
            scale = 10.0**digits
            ints = map(round, map(mul, sample, repeat(scale)))
            if list(map(truediv, ints, repeat(scale))) == sample:
                return digits
    except (TypeError, ValueError, OverflowError):  # not a float, not available, infinite
        pass
    return 0


def pack_decimals(
    values: Sequence[float | None], digits: int, raw: bytes, against: Sequence[int] | None = None
) -> tuple[bytes, array[int]] | None:
    """A column of decimals as integers, ``round(v * 10**digits)``, each less
    ``against``'s (the keyframe's integers of the same keys) when given; then less
    their least, so that all are small and not negative, byte-shuffled and compressed.
    A gauge sent with one or two decimals (a GPU's power, its utilisation) leaves its
    float's low bits noisy, which XOR does not remove and zstd cannot shrink: written
    so, 5.97 -> 1.6 B/sample (bench/recording.py). ``raw``: the values'
    :func:`float_bytes`, which the integers must give back bit for bit (else ``None``:
    write the column as floats; so are integers past 64 bits, which a reader refuses).
    Also the integers, for the columns that follow, as an array (no object a value).
    Rounded by ``float.__round__`` itself (``round`` looks it up a value: 2.3x slower)."""
    scale = 10.0**digits
    try:
        rounded = list(map(float.__round__, map(mul, values, repeat(scale))))
        if float_bytes(list(map(truediv, rounded, repeat(scale)))) != raw:
            return None
        ints = array("q", rounded)
        diffs = rounded if against is None else list(map(sub, rounded, against))
        least = min(diffs, default=0)
        offsets = list(map(sub, diffs, repeat(least))) if least else diffs
        packed = struct.pack(f"<q{len(offsets)}Q", least, *offsets)
    except (TypeError, ValueError, OverflowError, struct.error):
        return None
    return deflate(packed[:8] + _shuffle(packed[8:])), ints


def unpack_decimals(
    data: bytes, against: Sequence[int] | None = None, count: int | None = None
) -> list[int]:
    """The integers :func:`pack_decimals` wrote, with the same ``against``; ValueError
    when damaged. ``count``: its schema's keys (``against``'s when not given), checked
    before the part is inflated: a kilobyte of it can claim millions of values (4
    million took 225 MB). Its bytes read as an array, not a tuple of objects; the
    integers a list (made from a list, not an array, in 2/3 of the time)."""
    count = len(against) if count is None and against is not None else count
    if count is not None:
        try:
            size = zstandard.frame_content_size(data)
        except zstandard.ZstdError as exc:
            raise ValueError(f"damaged column: {exc}") from None
        if size != 8 * (count + 1):
            raise ValueError("damaged column: not as long as its schema")
    try:
        packed = inflate(data)
    except ValueError as exc:
        raise ValueError(f"damaged column: {exc}") from None
    if len(packed) < 8 or len(packed) % 8 or (count is not None and len(packed) != 8 * (count + 1)):
        raise ValueError("damaged column: not as long as its keyframe's")
    (least,) = struct.unpack_from("<q", packed)
    offsets = array("Q", _unshuffle(packed[8:]))
    if sys.byteorder == "big":
        offsets.byteswap()
    if against is None:
        return list(map(add, offsets, repeat(least)))
    return list(map(add, offsets, map(add, against, repeat(least))))


def decimal_floats(ints: Sequence[int], digits: int) -> array[float]:
    """The values of a column of decimals (:func:`unpack_decimals`) with ``digits``
    after the point, as read from the file: ValueError when not among :data:`DIGITS`
    (10.0**400 overflows, 10.0**-400 divides by zero). (An array from a list: from the
    ``map`` itself it grows a value at a time, 1.4x slower.)"""
    if digits not in DIGITS:
        raise ValueError(f"damaged column: {digits} digits after the point")
    return array("d", list(map(truediv, ints, repeat(10.0**digits))))


XOR_PIECE = 1 << 14
"""Bytes XORed at a time (:func:`_xor`): a piece with nothing to XOR is copied."""
_ZEROS = bytes(XOR_PIECE)


def any_set(data: bytes | bytearray) -> bool:
    """Whether any byte is not 0 (compared in C, no copy a byte)."""
    return data != (_ZEROS if len(data) == XOR_PIECE else bytes(len(data)))


def _xor(data: bytes | bytearray, against: bytes) -> bytes:
    """Two columns of the same keys XORed byte by byte, a piece at a time as two big
    integers (in C); a piece where one side is all zero, or both are the same, is
    copied, not XORed. Whole columns often are: a batch whose values are its
    keyframe's XORs to zero bytes and back, and a keyframe's readings differ from its
    batches' in a few places (bench/recording.py: a seek's XORs 2x faster)."""
    size = len(data)
    if size != len(against):
        raise ValueError("damaged column: not as long as its keyframe's")
    pieces: list[bytes | bytearray] = []
    for start in range(0, size, XOR_PIECE):
        piece, other = data[start : start + XOR_PIECE], against[start : start + XOR_PIECE]
        if piece == other:
            pieces.append(bytes(len(piece)))
        elif not any_set(piece):
            pieces.append(other)
        elif not any_set(other):
            pieces.append(piece)
        else:
            mixed = int.from_bytes(piece, "little") ^ int.from_bytes(other, "little")
            pieces.append(mixed.to_bytes(len(piece), "little"))
    return b"".join(pieces)


class Against(bytes):
    """A column that many are XORed against (:func:`pack_floats`): a keyframe's, which
    the frames up to the next one's are. Its pieces, and their integers, are made once
    for all of them, not once a frame (a third of each XOR at 1,000 nodes)."""

    _pieces: list[tuple[bytes, int | None]] | None = None
    decimals: tuple[int, array[int]] | None = None
    """Its digits and integers, when it was written as decimals (:func:`pack_decimals`)."""

    def xor(self, data: bytes) -> bytes:
        """:func:`_xor` of ``data`` against these bytes (the same bytes back)."""
        size = len(data)
        if size != len(self):
            raise ValueError("damaged column: not as long as its keyframe's")
        if self._pieces is None:
            self._pieces = []
            for start in range(0, size, XOR_PIECE):
                other = self[start : start + XOR_PIECE]
                number = int.from_bytes(other, "little") if any_set(other) else None
                self._pieces.append((other, number))
        mixed: list[bytes] = []
        for (other, number), start in zip(self._pieces, range(0, size, XOR_PIECE), strict=True):
            piece = data[start : start + XOR_PIECE]
            if number is None:  # nothing to XOR
                mixed.append(piece)
            elif piece == other:
                mixed.append(bytes(len(piece)))
            elif not any_set(piece):
                mixed.append(other)
            else:
                mixed.append(
                    (int.from_bytes(piece, "little") ^ number).to_bytes(len(piece), "little")
                )
        return b"".join(mixed)


def pack_keys(refs: list[str], metrics: list[str]) -> dict[str, Any]:
    """A schema's keys as runs of entities that each have the same metrics in the same
    order (as a source sends them): each run's refs once and its metrics' pattern once
    (``p``: the patterns; ``r``: each run's refs and pattern number). Read back, every
    string is one object however often it recurs (a seek's first schemas at 1,000
    nodes: 454,000 keys, 900,000 strings, 63 MB and 30,000 fresh pages made; ~2,000
    strings this way, and their hashes are made once)."""
    count = len(refs)
    # Found in C, not a step a key (a 1,000-node keyframe's 227,000 keys: 115 -> 70 ms,
    # made again whenever its keys change): where each ref's run begins, and each run's
    # pattern: its metric alone when it has one (as a source's column has), else the
    # tuple of its metrics; then the patterns in the order first seen, and where the
    # pattern changes from one run to the next.
    starts = [0, *selected(range(1, count), map(ne, refs[1:], refs))] if refs else []
    firsts, patterned = refs, cast("list[Any]", metrics)  # every key a run of its own
    if len(starts) < count:
        firsts = list(map(refs.__getitem__, starts))
        patterned = list(map(metrics.__getitem__, starts))
        ends = [*starts[1:], count]
        for run in selected(range(len(starts)), map(gt, map(sub, ends, starts), repeat(1))):
            patterned[run] = tuple(metrics[starts[run] : ends[run]])
    patterns = dict.fromkeys(patterned)
    number_of = {pattern: number for number, pattern in enumerate(patterns)}
    numbers = list(map(number_of.__getitem__, patterned))
    changes = selected(range(1, len(numbers)), map(ne, numbers[1:], numbers))
    bounds = [0, *changes, len(numbers)] if numbers else []
    runs = [[firsts[start:end], numbers[start]] for start, end in pairwise(bounds)]
    return {"p": [[p] if isinstance(p, str) else list(p) for p in patterns], "r": runs}


def unpack_keys(body: Any) -> tuple[list[str], list[str]]:
    """The refs and metrics of a schema row (:func:`pack_keys`, or before version 6 two
    lists); ValueError when damaged, before anything is made for it: a few hundred bytes
    of runs can claim billions of keys (at most :data:`MAX_KEYS`, as many as a column
    of values the size of an inflated part holds)."""
    if isinstance(body, list):
        if len(body) != 2 or not all(isinstance(side, list) for side in body):
            raise ValueError("damaged schema: not two lists")
        if len(body[0]) != len(body[1]):
            raise ValueError("damaged schema: not one metric a ref")
        return body[0], body[1]
    if not isinstance(body, dict) or not isinstance(body.get("p"), list):
        raise ValueError("damaged schema: not a schema")
    names: dict[str, str] = {}  # a metric in several patterns: one string too
    patterns = [[names.setdefault(name, name) for name in pattern] for pattern in body["p"]]
    runs = body.get("r")
    if not isinstance(runs, list) or not all(
        isinstance(run, list) and isinstance(number, int) and 0 <= number < len(patterns)
        for run, number in runs
    ):
        raise ValueError("damaged schema: a run of no list or no pattern")
    if sum(len(run) * len(patterns[number]) for run, number in runs) > MAX_KEYS:
        raise ValueError(f"damaged schema: more than {MAX_KEYS:,} keys")
    refs: list[str] = []
    metrics: list[str] = []
    for run, number in runs:
        pattern = patterns[number]
        step = len(pattern)
        each: list[Any] = [None] * (len(run) * step)
        for place in range(step):  # each ref once a metric: a strided slice each, in C
            each[place::step] = run
        refs += each
        metrics += pattern * len(run)
    return refs, metrics


Place = int | list[int | None]
"""Where a batch's keys sit among a keyframe's readings (:func:`place_among`)."""


def place_among(
    keys: list[tuple[str, str]],
    index: dict[tuple[str, str], int],
    refs: list[str],
    metrics: list[str],
    split: tuple[list[str], list[str]] | None = None,
) -> Place:
    """Where these keys (a batch's ``refs`` and ``metrics``) sit among a keyframe's
    ``keys`` (``index``: each one's place there): the first one's place when they
    follow one another there from it (as a source sends them: one slice, compared in
    C, no pair made a key), else each one's (``None``: not among them). ``split``: the
    keys' refs and metrics as two lists, where the caller has them: two slices compared
    whole, no pair made (227,000 at a session's first seek at 1,000 nodes)."""
    start = index.get((refs[0], metrics[0])) if refs else None
    if start is not None and start + len(refs) <= len(keys):
        end = start + len(refs)
        if split is not None:
            if split[0][start:end] == refs and split[1][start:end] == metrics:
                return start
        elif all(map(eq, keys[start:end], zip(refs, metrics, strict=True))):
            return start
    return [index.get(key) for key in zip(refs, metrics, strict=True)]


def keyframe_against(size: int, laid: Iterable[tuple[array[float], Place]]) -> bytes:
    """What a keyframe's ``size`` readings' values are XORed against: each batch's
    column (its schema's first in the keyframe's frame) at its :func:`place_among`, 0
    where no batch has the key. The recorder writes and the reader reads with it, so
    both lay them alike; ValueError when a column does not fit its place."""
    against = array("d", bytes(8 * size))
    for column, where in laid:
        if isinstance(where, int):
            if where + len(column) > size:
                raise ValueError("damaged column: past its keyframe's readings")
            against[where : where + len(column)] = column
            continue
        for place, value in zip(where, column, strict=True):
            if place is not None:
                against[place] = value
    return against.tobytes()


_FIRST, _SECOND = itemgetter(0), itemgetter(1)
History = dict[str, dict[str, list[tuple[float, float | None]]]]
"""The timed series' points by ref and metric (a keyframe's, oldest first)."""


def pack_history(history: History) -> list[Any]:
    """A keyframe's job history as its series' refs, metrics and point counts, and all
    their times then all their values as two float columns (:func:`pack_floats`): 88,000
    points at 1,000 nodes, 249 -> 158 kB, and a seek decodes two columns, not a small
    list a point (most of its keyframe's decoding)."""
    return pack_history_columns(
        [(ref, metric, array("d", map(_FIRST, points)),
          array("d", float_bytes(list(map(_SECOND, points)))))
         for ref, per_metric in history.items() for metric, points in per_metric.items()]
    )  # fmt: skip


Series = tuple[str, str, "array[float]", "array[float]"]
"""A timed series' ref, metric, and its points as two columns, times and values (NaN:
not available), oldest first."""


def pack_history_columns(series: Sequence[Series]) -> list[Any]:
    """:func:`pack_history` from each series' two columns, as its ring holds them: no
    object a point (made as points, a keyframe's 88,000 at 1,000 nodes were ~0.1 s of
    the collector's loop)."""
    times = b"".join([at.tobytes() for _ref, _metric, at, _values in series])
    values = b"".join([column.tobytes() for _ref, _metric, _at, column in series])
    return [[ref for ref, _metric, _at, _values in series],
            [metric for _ref, metric, _at, _values in series],
            [len(at) for _ref, _metric, at, _values in series],
            pack_floats(times), pack_floats(values)]  # fmt: skip


Points = tuple["array[float]", "array[float]"]
"""A timed series' points as two float columns, times and values (NaN: not available)."""


def unpack_history(part: Any) -> dict[tuple[str, str], Points]:
    """The points :func:`pack_history` wrote by ``(ref, metric)``, each series' as two
    columns (slices of the part's, no object a point: 88,000 points at 1,000 nodes),
    or those of a version 2 to 4 keyframe's map; ValueError when damaged."""
    if isinstance(part, dict):
        return {(ref, metric): (array("d", [t for t, _v in points]),
                                array("d", [NAN if v is None else v for _t, v in points]))
                for ref, per_metric in part.items()
                for metric, points in per_metric.items()}  # fmt: skip
    refs, metrics, counts, packed_times, packed_values = part
    times, values = unpack_floats(packed_times), unpack_floats(packed_values)
    if not len(refs) == len(metrics) == len(counts) or len(times) != len(values):
        raise ValueError("damaged history: parts of different lengths")
    if sum(counts) != len(times) or min(counts, default=0) < 0:
        raise ValueError("damaged history: counts not its points")
    history: dict[tuple[str, str], Points] = {}
    start = 0
    for ref, metric, count in zip(refs, metrics, counts, strict=True):
        end = start + count
        history[(ref, metric)] = (times[start:end], values[start:end])
        start = end
    return history


def history_since(base: HistoryBase, series: Sequence[Series]) -> list[Any]:
    """A keyframe's job history as what each series added to the ``base`` keyframe's
    (:func:`pack_history_columns` of those points, then each series' *skip*: how many
    of the base's points it no longer holds, -1 for a series written whole, one the
    base has not or whose points are not the base's then more). The history holds 10
    minutes of points: written whole at every keyframe each point was written 60 times
    (147 kB a keyframe at 1,000 nodes after 40 s, 3.5x that after 10 min;
    bench/recording.py)."""
    tails: list[Series] = []
    skips: list[int] = []
    for ref, metric, times, values in series:
        skip = -1
        found = base.get((ref, metric))
        if found is not None and times:
            base_times, (base_at, base_values) = found
            start = bisect_left(base_times, times[0])
            kept = len(base_times) - start
            if (
                kept <= len(times)
                and times[:kept].tobytes() == base_at[8 * start :]
                and values[:kept].tobytes() == base_values[8 * start :]
            ):
                skip, times, values = start, times[kept:], values[kept:]
        tails.append((ref, metric, times, values))
        skips.append(skip)
    return [*pack_history_columns(tails), skips]


HistoryBase = dict[tuple[str, str], tuple["array[float]", tuple[bytes, bytes]]]
"""A base keyframe's job history: each series' times, and its times' and values' bytes."""


def history_base(series: Sequence[Series]) -> HistoryBase:
    """What :func:`history_since` compares later keyframes' series with."""
    return {(ref, metric): (times, (times.tobytes(), values.tobytes()))
            for ref, metric, times, values in series}  # fmt: skip


def join_history(
    base: dict[tuple[str, str], Points], part: list[Any]
) -> dict[tuple[str, str], Points]:
    """A keyframe's job history from :func:`history_since`'s part and the base's
    points (:func:`unpack_history`); ValueError when they do not fit."""
    if not isinstance(part, list) or len(part) != 6 or not isinstance(part[5], list):
        raise ValueError("damaged history: not what was added to a base")
    tails, skips = unpack_history(part[:5]), part[5]
    if len(skips) != len(tails):
        raise ValueError("damaged history: not one skip a series")
    history: dict[tuple[str, str], Points] = {}
    for (key, (times, values)), skip in zip(tails.items(), skips, strict=True):
        if skip == -1:
            history[key] = (times, values)
            continue
        found = base.get(key)
        if found is None or not isinstance(skip, int) or not 0 <= skip <= len(found[0]):
            raise ValueError("damaged history: a series not in its base")
        history[key] = (found[0][skip:] + times, found[1][skip:] + values)
    return history


_UNKNOWN = object()


class MetricOrder:
    """A schema's readings grouped by metric (each metric's in the schema's order), and
    back. A source sends an entity's metrics one after another; grouped, a column holds
    a metric's values side by side, whose bytes are alike (value columns 2.0 -> 1.2
    B/sample at 1,000 simulated nodes, bench/recording.py). Both ways in C, made once
    per schema when first asked for (a keyframe's schema, 227,000 keys, never is): a
    schema whose entities each send the same metrics in the same order (every
    simulator's and agent's batch) is a grid, grouped and ungrouped by one strided
    slice a metric; any other by one ``itemgetter`` each way."""

    def __init__(self, metrics: Sequence[str]) -> None:
        self._metrics = metrics
        self.size = len(metrics)
        self._ways: tuple[Gather, Gather] | None = None
        self._grid: Any = _UNKNOWN
        """Of a grid: each metric's place in an entity's, and its slice when grouped;
        ``None``: not a grid (found when first asked)."""

    def _grid_of(self) -> list[tuple[int, int, int]] | None:
        if self._grid is _UNKNOWN:
            self._grid = _grid(self._metrics)
        return cast("list[tuple[int, int, int]] | None", self._grid)

    def _both(self) -> tuple[Gather, Gather]:
        """The two gathers (not made for a grid, which a strided slice a metric moves:
        a keyframe's batch schemas' gathers were ~20 ms of a session's first seek)."""
        if self._ways is None:
            order = sorted(range(self.size), key=self._metrics.__getitem__)  # stable
            inverse = [0] * self.size
            for place, index in enumerate(order):
                inverse[index] = place
            self._ways = (_gather(order), _gather(inverse))
        return self._ways

    def group(self, values: Sequence[float | None]) -> Sequence[float | None]:
        """The values in metric order."""
        grid = self._grid_of()
        if grid is None or len(values) != self.size:
            return self._both()[0](values)
        if len(grid) == 1:  # one metric (a column's batch): in its order already
            return values
        grouped: list[float | None] = [None] * self.size
        step = len(grid)
        for first, start, end in grid:
            grouped[start:end] = values[first::step]
        return grouped

    def ungroup(self, column: array[float]) -> array[float]:
        """A column read in metric order back in the schema's; ValueError when it is
        not as long as the schema."""
        if len(column) != self.size:
            raise ValueError("damaged column: not as long as its schema")
        grid = self._grid_of()
        if grid is None:
            return array("d", self._both()[1](column))
        ungrouped = array("d", bytes(8 * self.size))
        step = len(grid)
        for first, start, end in grid:
            ungrouped[first::step] = column[start:end]
        return ungrouped


def _grid(metrics: Sequence[str]) -> list[tuple[int, int, int]] | None:
    """A schema's metrics as a grid: the same distinct metrics for every entity, in
    the same order; for each, its place in an entity's and the slice its values take
    when grouped (sorted by name: what the stable sort makes of a grid). ``None``:
    not a grid."""
    if not metrics:
        return None
    names = list(metrics)
    step = names.index(names[0], 1) if names[0] in names[1:] else len(names)
    pattern = names[:step]
    if len(set(pattern)) != step or len(names) % step or names != pattern * (len(names) // step):
        return None
    rows = len(metrics) // step
    by_name = sorted(range(step), key=pattern.__getitem__)
    return [(first, rank * rows, (rank + 1) * rows) for rank, first in enumerate(by_name)]


Gather = Callable[[Sequence[Any]], tuple[Any, ...]]


def _gather(indices: list[int]) -> Gather:
    """``items[i] for i in indices`` as a tuple, in C (``itemgetter`` with one index
    answers the item itself, with none nothing: those two by hand)."""
    if len(indices) > 1:
        return itemgetter(*indices)
    return lambda items: tuple(items[i] for i in indices)


def as_optional(value: float) -> float | None:
    """NaN back to ``None``."""
    return None if value != value else value


COLUMNS = ("t", "b", "k", "E")
"""A frame's parts kept outside its compressed rest: the time, and the batches,
keyframe readings and entities between keyframes, compressed each on its own."""


def compress(body: dict[str, Any]) -> bytes:
    """One frame's stored bytes: the columns as they are, the rest compressed."""
    outer = {key: body[key] for key in COLUMNS if key in body}
    rest = {key: value for key, value in body.items() if key not in outer}
    outer["z"] = deflate(encode(rest))
    return encode(outer)


def decompress(blob: bytes) -> dict[str, Any]:
    """One frame's document (its columns still packed); ValueError when the bytes are
    not a frame."""
    try:
        body = decode(blob)
        if not isinstance(body, dict):
            raise ValueError("not a document")
        body.update(decode(inflate(body.pop("z"))))
    except (msgspec.DecodeError, KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"damaged frame: {exc}") from None
    return body
