"""HTTP for both sources: one aiohttp session each, bounded bodies, errors in words.

The same habits as the agent client (``console/agent/client.py``): a refused
connection, a timeout, a TLS failure or an oversized body is one line that says so.
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp

from console.api import SourceError
from console.api import read_token as safe_read_token

MAX_BODY_BYTES = 256 * 1024 * 1024
"""Largest body read. At 10,000 nodes (80,000 GPUs) the query source's largest answer
is about 18 MB (the dcgm label sets; each field's values about 13 MB), so this leaves
room for 10x that while a hostile server's endless answer stops here: one query with
every label (``bench/prometheus_query.py``'s "whole" read, 36 MB at 1,000 nodes)
would be refused at 10,000."""


def ssl_context(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """Client TLS: verify the server with ``ca``, present ``cert``/``key``."""
    if not (ca or cert):
        return None
    context = ssl.create_default_context(cafile=ca)
    if cert:
        context.load_cert_chain(cert, key)
    return context


def read_token(path: str) -> str:
    """A bearer token from a file: non-blocking, regular files only, capped (UnsafeFile)."""
    return safe_read_token(path)


class Client:
    """One session, opened in the running loop on first use."""

    def __init__(self, timeout: float, token: str | None, tls: ssl.SSLContext | None) -> None:
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.tls = tls
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit_per_host=8, ttl_dns_cache=300)
            )
        return self._session

    async def request(
        self, method: str, url: str, *, what: str, accept: str, data: Any = None
    ) -> tuple[int, bytes]:
        """(status, body); SourceError in words for everything but an HTTP status."""
        headers = {**self.headers, "Accept": accept}
        try:
            async with self.session().request(
                method, url, headers=headers, data=data,
                ssl=self.tls if self.tls is not None else True,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:  # fmt: skip
                if response.status == 401:
                    raise SourceError(f"401 unauthorized from {what}: wrong or missing token")
                return response.status, await _read_limited(response)
        except SourceError:
            raise
        except aiohttp.ClientConnectorCertificateError as exc:
            raise SourceError(f"TLS: {exc.certificate_error}") from None
        except aiohttp.ClientSSLError as exc:
            raise SourceError(f"TLS: {exc}") from None
        except aiohttp.ClientConnectorError as exc:
            raise SourceError(f"{what} refused or unreachable: {exc.os_error}") from None
        except TimeoutError:
            raise SourceError(f"{what}: timeout after {self.timeout:g}s") from None
        except aiohttp.ClientPayloadError:
            raise SourceError(f"{what}: truncated response") from None
        except aiohttp.ClientResponseError as exc:
            raise SourceError(f"{what}: bad HTTP response: {exc.message}") from None
        except aiohttp.ClientError as exc:
            raise SourceError(f"{what}: {type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    declared = response.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise SourceError(f"response too large ({declared:,} bytes > {MAX_BODY_BYTES:,})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(1024 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise SourceError(f"response too large (over {MAX_BODY_BYTES:,} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)
