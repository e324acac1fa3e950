"""The ``pdu`` source type: poll a PDU's JSON over HTTP(S), or read it from a file.

Config::

    sources:
      - type: pdu
        url: http://rack01-pdu-a.example/api/readings   # or file:///var/lib/pdu/rack01.json
        warn_pct: 80       # load that makes a warning (default 80)
        crit_pct: 95       # load that makes a critical finding (default 95)

One entry per URL. A PDU that does not answer, answers with an HTTP error, or
serves something that is not the expected JSON, shows as *failed* with one line
saying so; the console keeps its last good readings.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
from console.api import Batch, Option, Source, SourceContext, SourceError

from watchfloor_pdu.feed import parse_feed

OPTIONS = (
    Option("url", (str,), required=True, help="http(s):// URL of the JSON, or file:// / a path"),
    Option("warn_pct", (int, float), default=80, help="load (% of rated) that warns"),
    Option("crit_pct", (int, float), default=95, help="load (% of rated) that is critical"),
    Option("timeout", (int, float), default=5, help="seconds a poll may take"),
)
"""The options a ``type: pdu`` entry takes; the console validates them with file:line."""
MAX_BYTES = 4 * 2**20
"""A PDU's answer larger than this is refused (a misconfigured URL, not a PDU)."""


class PduSource(Source):
    """One PDU (or an aggregator of several) behind one URL."""

    type = "pdu"

    def __init__(
        self, url: str, interval: float, warn_pct: float, crit_pct: float, timeout: float
    ) -> None:
        self.url = url
        """Where the JSON is."""
        parsed = urlparse(url)
        self.path = Path(parsed.path) if parsed.scheme in ("", "file") else None
        """The file to read, for a ``file://`` URL or a plain path."""
        self.name = f"pdu:{parsed.hostname or Path(parsed.path).stem}"
        self.interval = interval
        self.timeout = timeout
        self.warn_pct, self.crit_pct = warn_pct, crit_pct
        self._session: aiohttp.ClientSession | None = None

    async def poll(self) -> Batch:
        document = await (self._read_file() if self.path else self._fetch())
        try:
            return parse_feed(document, self.warn_pct, self.crit_pct)
        except ValueError as exc:
            raise SourceError(f"{self.url}: {exc}") from None

    async def _read_file(self) -> Any:
        assert self.path is not None
        try:
            text = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        return self._json(text)

    async def _fetch(self) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.get(self.url) as response:
                if response.status != 200:
                    raise SourceError(f"{self.url}: HTTP {response.status} {response.reason}")
                body = await response.content.read(MAX_BYTES + 1)
        except aiohttp.ClientError as exc:
            raise SourceError(f"{self.url}: {exc}") from None
        if len(body) > MAX_BYTES:
            raise SourceError(f"{self.url}: answer larger than {MAX_BYTES // 2**20} MiB")
        return self._json(body.decode("utf-8", errors="replace"))

    def _json(self, text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{self.url}: not JSON (line {exc.lineno}: {exc.msg})") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def make_sources(context: SourceContext) -> list[Source]:
    """The source for one ``type: pdu`` entry of the config."""
    options = context.options
    url = options["url"]
    if urlparse(url).scheme not in ("", "file", "http", "https"):
        raise ValueError(f"url {url!r}: use http://, https://, file:// or a path")
    if urlparse(url).scheme == "" and not Path(url).is_absolute():
        url = str(Path(context.base_dir) / url)  # relative to the config file
    return [
        PduSource(
            url,
            context.interval,
            float(options["warn_pct"]),
            float(options["crit_pct"]),
            float(options["timeout"]),
        )
    ]
