"""The ``agent`` source over the agent's stream (``/v2/stream``, see ``stream_wire.py``).

One long-lived response per agent instead of one request per poll: the agent
pushes each cycle, and each poll takes what arrived since the last one (all
frames buffered are checked, the newest values kept). The same token, TLS,
redirect and status checks as a snapshot request apply when the stream opens;
each frame is bounded (:data:`~console.agent.stream_wire.MAX_FRAME_BYTES`) and
checked whole. A stream that brings no frame within the timeout is a stall: the
source is marked stale with that reason, the connection is dropped, and the next
poll opens a new stream (whose first frame is full).
"""

from __future__ import annotations

import asyncio
import json
from time import monotonic
from typing import Any

import aiohttp
from yarl import URL

from console.agent.client import AgentSource
from console.agent.stream_wire import (
    MAX_FRAME_BYTES,
    STREAM_PATH,
    WIRE_HEADER,
    StreamDecoder,
)
from console.agent.wire import WIRE_VERSION, WireError
from console.api import Batch, SourceError, plain
from console.core.engine import BLOCKED_MARGIN

STREAM_RETRY = 60.0
"""Seconds a source polls its agent's snapshot after the agent refused it a stream as
busy (503: it serves its most streams, one a console, already) before it asks again."""


class AgentStreamSource(AgentSource):
    """One agent, one URL, one stream."""

    wire_version = WIRE_VERSION
    """The version this console says it speaks (a test plays an older console with it)."""
    times_its_waits = True
    """Every wait of a poll is under its own deadline (:meth:`poll`), so the engine arms
    no timer for it: a thousand agents poll a thousand times a second, and most polls
    wait for nothing (a timer made, pushed on the loop's heap and cancelled each)."""

    def __init__(self, url: str, interval: float, *args: Any, **kwargs: Any) -> None:
        super().__init__(url, interval, *args, **kwargs)
        self._stream_url = URL(f"{self.url}{STREAM_PATH}").with_query(interval=f"{interval:g}")
        # The whole response lives as long as the stream: only opening it is timed here,
        # and each wait for a frame is timed by poll().
        self._open_timeout = aiohttp.ClientTimeout(
            total=None, connect=self.request_timeout, sock_read=None
        )
        self._response: aiohttp.ClientResponse | None = None
        self._decoder = StreamDecoder()
        self._buffer = bytearray()
        self._snapshot_until = 0.0
        """Until when the agent's snapshot is polled instead (it was busy: 503)."""

    async def poll(self) -> Batch:
        began = monotonic()
        if self._response is None and began < self._snapshot_until:
            return await AgentSource.poll(self)  # (bounded by its request's own timeout)
        try:
            # Most polls find the agent's frame in already: no wait, and no timer armed.
            if self._response is None or not self._read_buffered():
                # Every wait of the poll under one deadline (the engine arms no timer of
                # its own for this source: ``times_its_waits``).
                async with asyncio.timeout(self.request_timeout):
                    if self._response is None and not await self._open():
                        return await AgentSource.poll(self)  # busy: its snapshot meanwhile
                    if not self._read_buffered():
                        await self._read_frames()
        except TimeoutError:
            if self._response is None:  # (it was opening)
                raise self._failure(TimeoutError()) from None
            self._drop()
            raise SourceError(
                f"stream stalled: no update for {self.request_timeout:g}s (reconnecting)"
            ) from None
        except WireError as exc:
            self._drop()
            raise SourceError(f"bad response: {exc}") from None
        except SourceError:
            self._drop()
            raise
        except aiohttp.ClientError as exc:
            self._drop()
            raise self._failure(exc) from None
        late = monotonic() - began
        if late > self.timeout * BLOCKED_MARGIN:
            # The engine refuses a poll this late (as one that blocked its loop: on a
            # starved core it may only have waited), and a frame's entities come once,
            # when they change: what came stays in the decoder for the next poll.
            raise SourceError(f"stream read {late:.1f}s after the poll began (a busy "
                              "console): kept for the next poll")  # fmt: skip
        taken = self._decoder.take()
        assert taken is not None  # _read_frames returns once a frame is in
        return self._finish(*taken)

    async def _open(self) -> bool:
        """Open the stream; ``False``: the agent is too busy for one (polled meanwhile: a
        fifth console of one agent still sees it)."""
        headers = {WIRE_HEADER: str(self.wire_version)}
        try:
            response = await self._get(self._stream_url, self._open_timeout, headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._failure(exc) from None
        try:
            if response.status == 503:
                response.close()
                self._snapshot_until = monotonic() + STREAM_RETRY
                return False
            if response.status == 404:
                raise SourceError(await self._older_agent())
            if response.status == 400:
                text = await response.content.read(300)
                said = plain(text.decode("utf-8", "replace").strip(), 200)
                raise SourceError(f"refused by the agent: {said}")
            self._check_status(response)
        except BaseException:
            response.close()
            raise
        self._response = response
        self._decoder = StreamDecoder()  # a new stream starts with a full frame
        self._buffer.clear()
        return True

    async def _older_agent(self) -> str:
        """An agent without the stream speaks an older wire: ask its snapshot which."""
        try:
            async with self._get(self._snapshot_url, self._timeout) as response:
                document = json.loads(await response.content.read(4096 * 1024))
            version = document.get("wire_version") if isinstance(document, dict) else None
        except (aiohttp.ClientError, TimeoutError, ValueError, UnicodeDecodeError):
            version = "unknown"
        return (f"version mismatch: agent speaks wire version {version!r} (no "
                f"{STREAM_PATH}), this console {self.wire_version}: run the same watchfloor "
                "release on both")  # fmt: skip

    def _read_buffered(self) -> bool:
        """Take what has arrived already; whether a frame is in (then no wait, and no
        timer armed for one: 1,000 agents poll a thousand times a second)."""
        assert self._response is not None
        content, found = self._response.content, False
        while chunk := content.read_nowait():
            self._buffer += chunk
            found = self._split() or found
        return found or self._decoder.pending

    async def _read_frames(self) -> None:
        """Wait for at least one whole frame, then take every one already buffered."""
        assert self._response is not None
        content = self._response.content
        while not self._split() and not self._decoder.pending:  # (kept from a late poll)
            chunk = await content.readany()
            if not chunk:
                raise SourceError("the agent ended the stream")
            self._buffer += chunk
        self._read_buffered()  # what else is here: only the newest counts

    def _split(self) -> bool:
        """Feed the decoder every whole line in the buffer; True when there was one."""
        end = self._buffer.rfind(b"\n")
        if end < 0:
            if len(self._buffer) > MAX_FRAME_BYTES:
                raise SourceError(f"stream frame too large (over {MAX_FRAME_BYTES:,} bytes)")
            return False
        lines = bytes(self._buffer[:end]).split(b"\n")
        del self._buffer[: end + 1]
        for line in lines:
            if line:
                self._decoder.add(line)
        return True

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    async def close(self) -> None:
        self._drop()
        await super().close()


__all__ = ["AgentStreamSource"]
