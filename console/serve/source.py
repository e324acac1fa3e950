"""The ``console`` source: reads a collector's relay (``GET /v1/fleet``) over HTTP.

It trusts the whole fleet from that endpoint (an agent source refuses refs of
other nodes; a relay speaks for every node). The first read is the whole store;
each later one names the cycle it has and gets only what changed after it
(``console.collector.delta``), decoded a line at a time with the event loop free
between lines, so the console that reads a large fleet answers its keys meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from yarl import URL

from console.api import Batch, Source, SourceContext, SourceError
from console.collector.delta import Lines, decode_header, decode_line, split_lines
from console.collector.gate import INPUT_GATE
from console.core.bodies import BodyTooLarge, read_body
from console.core.model import Finding
from console.core.safe_file import read_token as safe_read_token
from console.serve.wire import RelayError

FIRST_CYCLE_ASK = 0.2
"""Seconds between two reads of a relay that has ended no cycle yet and holds nothing (a
collector starting: its first poll of a large fleet takes seconds), within one interval:
the fleet is read within this of being there, not up to an interval later."""
MAX_BODY_BYTES = 256 * 1024 * 1024
"""Largest relay document accepted (a 1,000-node fleet sends a few tens of MB)."""


class RelaySource(Source):
    """One collector's relay, one URL."""

    type = "console"
    mirror = True

    def __init__(
        self, url: str, token: str, interval: float, timeout: float = 3.0, own: bool = False
    ) -> None:
        self.url = url.rstrip("/")
        """Base URL of the relay."""
        self.own = own
        """The relay of this console's own collector, on this machine: its local entities
        (NVML, host) are this machine's, so their processes may be acted on. A served
        browser viewer reads a relay too, and is never told so."""
        self.name = "console"
        self.interval = interval
        self.timeout = timeout + 30.0  # the read is bounded below; decoding may take a while
        self.request_timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session: aiohttp.ClientSession | None = None
        self._epoch: str | None = None
        self._seq: int | None = None
        self._findings: list[Finding] = []
        self._local: set[str] = set()

    async def poll(self) -> Batch:
        # Within the interval, and the poll's own bound (an hour's interval is allowed).
        asking = min(self.interval, self.timeout - self.request_timeout)
        ask_until = time.monotonic() + asking - FIRST_CYCLE_ASK
        try:
            while True:
                body = await self._fetch()
                lines = split_lines(body)
                header = decode_header(next(lines, None))
                if header.seq or not _empty(body) or time.monotonic() >= ask_until:
                    break
                await asyncio.sleep(FIRST_CYCLE_ASK)  # no cycle ended there yet: ask again
            found = Lines()
            for line in lines:
                decode_line(line, found)
                await INPUT_GATE.wait()  # a key press is answered between two lines
        except RelayError as exc:
            raise SourceError(f"bad relay document: {exc}") from None
        if header.findings_changed:
            self._findings = found.findings
        if header.full:
            self._local = set()
        self._local = (self._local - set(found.removed)) | set(found.local)
        self._epoch, self._seq = header.epoch, header.seq
        return Batch(
            entities=found.entities,
            columns=found.columns,
            time=header.time,
            meta={
                "relay_findings": self._findings,
                "relay_sources": header.statuses,
                "relay_analysed": header.analysed,
                "capped_since": header.capped_since,
            }
            | ({"relay_local": frozenset(self._local)} if self.own else {}),
            removed=found.removed,
        )

    async def _fetch(self) -> bytes:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        query = {"history": "1"}
        if self._epoch is not None and self._seq is not None:
            query |= {"epoch": self._epoch, "since": str(self._seq)}
        url = URL(f"{self.url}/v1/fleet").with_query(query)
        try:
            timeout = aiohttp.ClientTimeout(total=self.request_timeout)
            async with self._session.get(url, headers=self._headers, timeout=timeout) as response:
                if response.status == 401:
                    raise SourceError("401 unauthorized: wrong or missing relay token")
                if response.status != 200:
                    raise SourceError(f"HTTP {response.status} from the relay")
                body = await read_body(response.content, MAX_BODY_BYTES, response.content_length)
        except BodyTooLarge as exc:
            raise SourceError(f"relay document too large ({exc})") from None
        except SourceError:
            raise
        except aiohttp.ClientConnectorError as exc:
            raise SourceError(f"relay refused or unreachable: {exc.os_error}") from None
        except TimeoutError:
            raise SourceError(f"relay timeout after {self.request_timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise SourceError(f"relay: {type(exc).__name__}: {exc}") from None
        return body

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _empty(body: bytes) -> bool:
    """Whether a document is its header alone (a collector's before its first cycle)."""
    end = body.find(b"\n")
    return end < 0 or end + 1 >= len(body)


def read_token(path: Path) -> str:
    """The relay token in ``path`` (UnsafeFile when empty, refused or unreadable)."""
    return safe_read_token(path)


def make_relay_sources(context: SourceContext) -> list[Source]:
    """Factory for ``type: console``."""
    options = context.options
    token = read_token(Path(context.base_dir) / str(options["token_file"]))
    return [RelaySource(str(options["url"]), token, context.interval, float(options["timeout"]))]
