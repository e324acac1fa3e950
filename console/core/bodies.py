"""Reading a whole HTTP body under a size cap, client or server side.

``StreamReader.read(n)`` returns what is buffered, not ``n`` bytes: a body that
arrives in two reads was silently cut (a relay document past ~128 KB, an events
POST split by the network). Every body is read here, to its end, and refused as
soon as it passes its cap.
"""

from __future__ import annotations

from aiohttp import StreamReader

CHUNK = 256 * 1024


class BodyTooLarge(ValueError):
    """The body passed its cap; the message names the cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit:,} bytes")
        self.limit = limit


async def read_body(content: StreamReader, limit: int, declared: int | None = None) -> bytes:
    """The whole body, or :class:`BodyTooLarge` once it (or its ``declared`` length) passes
    ``limit`` bytes."""
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
