"""How a recorded cycle (a *frame*) is laid out in bytes.

A frame is one msgpack document (msgspec), compressed with zlib. Its readings are
columns: the keys ``(ref, metric)`` of a batch are written once as a *schema* and
referred to by number while a source keeps sending the same keys in the same order
(every poll of a simulator or an agent does), so a cycle costs its values alone.
Values are float64 with NaN for *not available*, byte-shuffled (all first bytes,
then all second bytes, ...) so that the exponent bytes, which barely move, sit
together and compress to almost nothing.
"""

from __future__ import annotations

import math
import zlib
from array import array
from typing import Any, cast

import msgspec

FORMAT_VERSION = 1
"""Version of the recording's layout; a reader refuses any other."""
INLINE_SCHEMA = 256
"""Batches with fewer keys carry them inline (no schema row for a one-off batch)."""
ZLIB_LEVEL = 1
"""Level 1: 4x faster than 6 for a tenth more bytes on the value columns (bench/recording.py)."""

MAX_INFLATED = 1 << 30
"""Most bytes one compressed part may grow to: a recording from elsewhere is read
with bounds like any other input (a zip bomb is refused, not unpacked)."""

NAN = math.nan
_encoder = msgspec.msgpack.Encoder(enc_hook=str)
_decoder = msgspec.msgpack.Decoder()


def encode(value: Any) -> bytes:
    """msgpack bytes; anything msgpack has no type for is written as its ``str``."""
    return _encoder.encode(value)


def decode(data: bytes) -> Any:
    """The value :func:`encode` wrote."""
    return _decoder.decode(data)


def inflate(data: bytes) -> bytes:
    """``zlib.decompress`` with :data:`MAX_INFLATED` as its bound; zlib.error past it."""
    unpacker = zlib.decompressobj()
    out = unpacker.decompress(data, MAX_INFLATED)
    if unpacker.unconsumed_tail:
        raise zlib.error(f"a part grows past {MAX_INFLATED} bytes")
    return out


def pack_floats(values: list[float | None]) -> bytes:
    """Float64 column, ``None`` as NaN, byte-shuffled and compressed on its own (a seek
    opens only the columns it needs)."""
    if None in values:
        column = array("d", [NAN if v is None else v for v in values])
    else:
        column = array("d", cast("list[float]", values))
    raw = column.tobytes()
    return zlib.compress(b"".join(raw[i::8] for i in range(8)), ZLIB_LEVEL)


def unpack_floats(data: bytes) -> array[float]:
    """The column :func:`pack_floats` wrote (NaN where ``None`` was)."""
    try:
        shuffled = inflate(data)
    except zlib.error as exc:
        raise ValueError(f"damaged column: {exc}") from None
    count = len(shuffled) // 8
    raw = bytearray(len(shuffled))
    for i in range(8):
        raw[i::8] = shuffled[i * count : (i + 1) * count]
    column = array("d")
    column.frombytes(bytes(raw))
    return column


def as_optional(value: float) -> float | None:
    """NaN back to ``None``."""
    return None if value != value else value


COLUMNS = ("t", "b", "k")
"""A frame's parts kept outside its compressed rest: the time, and the batches and
keyframe readings, whose columns are compressed each on its own."""


def compress(body: dict[str, Any]) -> bytes:
    """One frame's stored bytes: the columns as they are, the rest compressed."""
    outer = {key: body[key] for key in COLUMNS if key in body}
    rest = {key: value for key, value in body.items() if key not in outer}
    outer["z"] = zlib.compress(encode(rest), ZLIB_LEVEL)
    return encode(outer)


def decompress(blob: bytes) -> dict[str, Any]:
    """One frame's document (its columns still packed); ValueError when the bytes are
    not a frame."""
    try:
        body = decode(blob)
        if not isinstance(body, dict):
            raise ValueError("not a document")
        body.update(decode(inflate(body.pop("z"))))
    except (zlib.error, msgspec.DecodeError, KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"damaged frame: {exc}") from None
    return body
