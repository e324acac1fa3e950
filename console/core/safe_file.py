"""Reading a configured file safely: never blocking, never unbounded, never a device.

Any file option may name something hostile or careless: ``/dev/zero`` (reads until
MemoryError), a FIFO (blocks forever: not even ``snapshot`` exits), a huge log.
Every configured file (config, token files, topology, jobs file, manifest, a
``file://`` exporter) is read here:

- opened with ``O_NONBLOCK`` (opening a FIFO cannot block) and checked on the
  open descriptor: what is not a regular file is refused, by name;
- read with a size cap, named in the error;
- from async code, :func:`read_text_async` runs the read in a thread under a
  timeout, so one stuck read (a hung NFS mount) is abandoned, not waited on.

Errors are :class:`UnsafeFile` (an ``OSError``) with one line naming the file.
"""

from __future__ import annotations

import asyncio
import os
import stat

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Default cap: a config, a topology or a jobs file is kilobytes; 16 MiB is generous."""
MAX_TOKEN_BYTES = 4096
"""A token file holds one line."""
READ_TIMEOUT = 5.0
"""Seconds an async read may take before it is abandoned."""


class UnsafeFile(OSError):
    """The file was refused or could not be read; the message names it and says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.strerror = message  # callers that print ``exc.strerror`` print the reason

    def __str__(self) -> str:
        return str(self.args[0])


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def read_bytes(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> bytes:
    """The whole file, or :class:`UnsafeFile` (missing, unreadable, not regular, too big)."""
    name = os.fspath(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(name, flags)
    except OSError as exc:
        raise UnsafeFile(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{name}: refused: {_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise UnsafeFile(f"{name}: refused: {info.st_size:,} bytes, over {limit:,}")
        os.set_blocking(descriptor, True)
        chunks: list[bytes] = []
        size = 0
        while True:  # the size can grow while we read: the cap holds regardless
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise UnsafeFile(f"{name}: refused: over {limit:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except UnsafeFile:
        raise
    except OSError as exc:
        raise UnsafeFile(f"{name}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(descriptor)


def read_text(
    path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES, errors: str = "strict"
) -> str:
    """The file as UTF-8 text (see :func:`read_bytes`); not UTF-8 is :class:`UnsafeFile`
    (unless ``errors="replace"``)."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8", errors)
    except UnicodeDecodeError as exc:
        raise UnsafeFile(f"{os.fspath(path)}: cannot read: not UTF-8 ({exc.reason})") from None


async def read_text_async(
    path: str | os.PathLike[str],
    limit: int = MAX_FILE_BYTES,
    timeout: float = READ_TIMEOUT,
    errors: str = "strict",
) -> str:
    """:func:`read_text` in a thread; a read still going after ``timeout`` is abandoned."""
    try:
        reading = asyncio.to_thread(read_text, path, limit, errors)
        return await asyncio.wait_for(reading, timeout)
    except TimeoutError:
        raise UnsafeFile(f"{os.fspath(path)}: read timed out after {timeout:g}s") from None


def read_token(path: str | os.PathLike[str]) -> str:
    """A bearer token: one line, stripped; an empty file is :class:`UnsafeFile`."""
    token = read_text(path, MAX_TOKEN_BYTES).strip()
    if not token:
        raise UnsafeFile(f"{os.fspath(path)}: token file is empty")
    return token


__all__ = [
    "MAX_FILE_BYTES",
    "UnsafeFile",
    "read_bytes",
    "read_text",
    "read_text_async",
    "read_token",
]
