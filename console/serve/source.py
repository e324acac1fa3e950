"""The ``console`` source: reads a collector's relay (``GET /v1/fleet``) over HTTP.

It trusts the whole fleet from that endpoint (an agent source refuses refs of
other nodes; a relay speaks for every node). Each reading is passed on once: a
reading whose time did not move since the last poll is left out, so counters
turn into the same rates here as in the collector, however often this polls.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
from yarl import URL

from console.api import Batch, Source, SourceContext, SourceError
from console.bodies import BodyTooLarge, read_body
from console.model import Sample
from console.safe_file import read_token as safe_read_token
from console.serve.wire import Fleet, RelayError, decode_fleet

MAX_BODY_BYTES = 256 * 1024 * 1024
"""Largest relay document accepted (a 1,000-node fleet sends a few tens of MB)."""


class RelaySource(Source):
    """One collector's relay, one URL."""

    type = "console"

    def __init__(self, url: str, token: str, interval: float, timeout: float = 3.0) -> None:
        self.url = url.rstrip("/")
        """Base URL of the relay."""
        self.name = "console"
        self.interval = interval
        self.timeout = timeout + 1.0
        self.request_timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session: aiohttp.ClientSession | None = None
        self._history_sent = False
        self._last: dict[tuple[str, str], float] = {}

    async def poll(self) -> Batch:
        # The first answer carries the job series so far; later ones the news only.
        fleet = await self._fetch(history=not self._history_sent)
        self._history_sent = True
        samples = []
        last: dict[tuple[str, str], float] = {}
        for ref, metric, value, time in fleet.readings:
            key = (ref, metric)
            newest = last.get(key, self._last.get(key))
            if newest is not None and time <= newest:
                last[key] = newest  # not moved since it was passed on
                continue
            last[key] = time
            samples.append(Sample(ref, metric, value, time))
        self._last = last  # what is no longer relayed is forgotten: memory stays flat
        return Batch(
            entities=fleet.entities,
            samples=samples,
            time=fleet.time,
            meta={
                "relay_findings": fleet.findings,
                "relay_sources": fleet.statuses,
                "capped_since": fleet.capped_since,
            },
        )

    async def _fetch(self, history: bool) -> Fleet:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        url = URL(f"{self.url}/v1/fleet").with_query({"history": "1"} if history else {})
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
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(f"bad JSON from the relay: {str(exc)[:120]}") from None
        try:
            return decode_fleet(document)
        except RelayError as exc:
            raise SourceError(f"bad relay document: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def read_token(path: Path) -> str:
    """The relay token in ``path`` (UnsafeFile when empty, refused or unreadable)."""
    return safe_read_token(path)


def make_relay_sources(context: SourceContext) -> list[Source]:
    """Factory for ``type: console``."""
    options = context.options
    token = read_token(Path(context.base_dir) / str(options["token_file"]))
    return [RelaySource(str(options["url"]), token, context.interval, float(options["timeout"]))]
