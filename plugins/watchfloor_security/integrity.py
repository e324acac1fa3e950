"""Model artifact integrity: SHA-256 of the weight files in watched directories.

A manifest keeps each file's size, mtime and hash, so a file whose size and
mtime did not change is not re-read. Each *step* hashes at most a byte budget,
changed files first, and carries a half-read file over to the next step, so a
20 GB tree never stalls the agent; files verified longer ago than
``reverify_seconds`` are re-hashed with what is left of the budget (a change
that kept its mtime is caught that way). Changed, added and removed files
become events with the file, old and new hash, and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fnmatch
import hashlib
import json
import os
import socket
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from console.api import (
    Batch,
    Entity,
    Option,
    Source,
    SourceContext,
    SourceError,
    SourceType,
    make_ref,
    read_text,
)

WEIGHT_PATTERNS = (
    "*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.gguf", "*.onnx", "*.h5",
    "*.npz", "*.msgpack", "*.model", "*.json",
)  # fmt: skip
"""Weights, and the configs and tokenizers that change what the weights do."""
CHUNK = 1 << 20
"""Bytes read at a time while hashing."""
MAX_FILES = 200_000
"""Files watched at most (the rest are counted, not hashed)."""
MAX_EVENTS = 100
"""Change events kept (newest)."""
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
"""Largest manifest read (200,000 files take ~40 MB)."""


@dataclass
class FileRecord:
    """What the manifest knows about one file."""

    size: int
    mtime_ns: int
    sha256: str | None = None
    """``None`` until hashed (or since its size or mtime changed)."""
    verified: float | None = None
    """When its hash was last computed."""
    previous: str | None = None
    """The hash before a change was noticed: compared once the new one is known."""
    added: bool = False
    """Appeared after the first full scan: reported once hashed."""
    unreadable: str | None = None
    """Why it could not be hashed last time (reported once per reason)."""


class Unreadable(OSError):
    """A watched file that cannot be hashed; the message says why."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISDIR, "directory")):  # fmt: skip
        if test(mode):
            return name
    return "special file"


@dataclass
class _Partial:
    """A file hashed over several steps."""

    path: str
    size: int
    mtime_ns: int
    hasher: Any
    offset: int = 0


class ModelTree:
    """The watched directories and their manifest; :meth:`step` does one budgeted pass."""

    def __init__(
        self,
        roots: Sequence[str],
        patterns: Sequence[str] = WEIGHT_PATTERNS,
        budget_bytes: int = 1 << 30,
        reverify_seconds: float = 86_400.0,
        manifest: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.roots = [os.path.abspath(root) for root in roots]
        self.patterns = tuple(patterns)
        self.budget_bytes = budget_bytes
        """Bytes hashed per step at most."""
        self.reverify_seconds = reverify_seconds
        self.manifest = manifest
        """Where the manifest is kept between runs (``None``: in memory only)."""
        self.clock = clock
        self.records: dict[str, FileRecord] = {}
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self.summary: dict[str, Any] = {"paths": self.roots, "files": 0, "verified": 0}
        self.hashed_last_step = 0
        """Bytes read by the last step (tests check the budget with it)."""
        self.stop = threading.Event()
        """Set to make a running step return early (the source is closing)."""
        self._partials: dict[str, _Partial] = {}
        self._buffer = bytearray(CHUNK)
        self._scanned = False
        self._seq = 0
        self._lock = threading.Lock()
        if manifest is not None:
            self._load(manifest)

    # -- one step ------------------------------------------------------------

    def step(self) -> None:
        """Notice changes by size and mtime, then hash within the budget."""
        current, skipped = self._walk()
        now = self.clock()
        for path in [p for p in self.records if p not in current]:
            gone = self.records.pop(path)
            if gone.sha256 or gone.previous:
                self._event("removed", path, gone.sha256 or gone.previous, None, now)
        for path, (size, mtime_ns) in current.items():
            record = self.records.get(path)
            if record is None:
                self.records[path] = FileRecord(size, mtime_ns, added=self._scanned)
            elif (record.size, record.mtime_ns) != (size, mtime_ns):
                record.previous = record.sha256 or record.previous
                record.size, record.mtime_ns, record.sha256 = size, mtime_ns, None
        self._scanned = True
        self.hashed_last_step = self._hash_within_budget(now)
        verified = sum(1 for r in self.records.values() if r.sha256)
        pending = sum(r.size for r in self.records.values() if not r.sha256)
        with self._lock:
            self.summary = {
                "paths": self.roots,
                "files": len(self.records),
                "bytes": sum(r.size for r in self.records.values()),
                "verified": verified,
                "pending_bytes": pending,
                "changes": self._seq,
                "skipped": skipped,
            }
        if self.manifest is not None:
            self._save(self.manifest)

    def _walk(self) -> tuple[dict[str, tuple[int, int]], int]:
        """Regular files matching the patterns: path → (size, mtime_ns). Symlinks
        are not followed (a link to /dev/zero must not be hashed forever)."""
        found: dict[str, tuple[int, int]] = {}
        skipped = 0
        for path in self._candidates():
            if len(found) >= MAX_FILES:
                skipped += 1
                continue
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            found[path] = (info.st_size, info.st_mtime_ns)
        return found, skipped

    def _candidates(self) -> Iterator[str]:
        for root in self.roots:
            if not os.path.isdir(root):  # not "0 files, all verified" forever: say so
                raise SourceError(f"watched path {root} is not a directory (missing?)")
            for folder, dirs, files in os.walk(root, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    if any(fnmatch.fnmatchcase(name, p) for p in self.patterns):
                        yield os.path.join(folder, name)

    def _queue(self, now: float) -> list[str]:
        """Changed files first, then new ones, then those due for re-verification."""
        changed: list[str] = []
        new: list[str] = []
        due: list[tuple[float, str]] = []
        for path, record in self.records.items():
            if record.sha256 is None:
                (changed if record.previous or record.added else new).append(path)
            elif record.verified is None or now - record.verified >= self.reverify_seconds:
                due.append((record.verified or 0.0, path))
        return changed + new + [path for _, path in sorted(due)]

    def _hash_within_budget(self, now: float) -> int:
        read = 0
        for path in self._queue(now):
            if read >= self.budget_bytes or self.stop.is_set():
                break
            record = self.records[path]
            partial = self._partials.get(path)
            seen = (record.size, record.mtime_ns)
            if partial is None or (partial.size, partial.mtime_ns) != seen:
                partial = _Partial(path, record.size, record.mtime_ns, hashlib.sha256())
                self._partials[path] = partial
            try:
                done, used = self._hash_some(partial, self.budget_bytes - read)
            except Unreadable as exc:
                # Not "pending" forever: a watched file nobody can hash is a finding.
                del self._partials[path]
                if record.unreadable != str(exc):
                    record.unreadable = str(exc)
                    old = record.sha256 or record.previous
                    self._event("unreadable", path, old, None, now, reason=str(exc))
                continue
            record.unreadable = None
            read += used
            if done is False:
                break  # budget spent: this file resumes where it stopped next step
            del self._partials[path]
            if done:
                self._finish(record, path, partial.hasher.hexdigest(), now)
            # done is None: unreadable, or changed while read; tried again next step
        for path in [p for p in self._partials if p not in self.records]:
            del self._partials[path]
        return read

    def _hash_some(self, partial: _Partial, allowance: int) -> tuple[bool | None, int]:
        """Read on from ``partial.offset``: (finished?, bytes read); ``None`` if the file
        changed size while being read. :class:`Unreadable` when it cannot be hashed.

        Opened without following a symlink and without blocking, then checked on the
        open descriptor: a FIFO or device swapped in after the walk is refused, never
        read (a FIFO would block the thread forever, and SIGTERM with it)."""
        used = 0
        # One reused buffer: allocating a fresh 1 MiB bytes object per read costs
        # three times the hashing itself.
        buffer = memoryview(self._buffer)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            descriptor = os.open(partial.path, flags)
        except PermissionError as exc:
            raise Unreadable(f"permission denied ({exc.strerror})") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Unreadable("replaced by a symlink (not followed)") from None
            if exc.errno == errno.ENOENT:
                return None, 0  # removed meanwhile: the next walk says so
            raise Unreadable(exc.strerror or str(exc)) from None
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                raise Unreadable(f"replaced by a {_kind(info.st_mode)} (not a regular file)")
            os.set_blocking(descriptor, True)  # a regular file: plain reads from here
            with open(descriptor, "rb", buffering=0, closefd=False) as handle:
                handle.seek(partial.offset)
                while used < allowance and not self.stop.is_set():
                    count = handle.readinto(buffer[: min(CHUNK, allowance - used)])
                    if not count:
                        break
                    partial.hasher.update(buffer[:count])
                    used += count
                    partial.offset += count
            info = os.fstat(descriptor)
        except OSError as exc:
            raise Unreadable(exc.strerror or str(exc)) from None
        finally:
            os.close(descriptor)
        if (info.st_size, info.st_mtime_ns) != (partial.size, partial.mtime_ns):
            return None, used
        return partial.offset >= partial.size, used

    def _finish(self, record: FileRecord, path: str, digest: str, now: float) -> None:
        # A re-verified file that kept its size and mtime is compared with its own hash.
        expected = record.previous or record.sha256
        if expected and expected != digest:
            self._event("modified", path, expected, digest, now)
        elif record.added and not expected:
            self._event("added", path, None, digest, now)
        record.sha256, record.verified = digest, now
        record.previous, record.added = None, False

    # -- output --------------------------------------------------------------

    def _event(
        self, change: str, path: str, old: str | None, new: str | None, now: float, reason: str = ""
    ) -> None:
        self._seq += 1
        event = {
            "seq": self._seq,
            "category": "integrity",
            "severity": "critical",
            "change": change,
            "file": path,
            "model": self.model_of(path),
            "old_sha256": old,
            "new_sha256": new,
            "time": now,
        }
        if reason:
            event["reason"] = reason
        with self._lock:
            self.events.append(event)

    def model_of(self, path: str) -> str:
        """The model a file belongs to: its first directory under the watched root."""
        for root in self.roots:
            if path.startswith(root + os.sep):
                first = path[len(root) + 1 :].split(os.sep, 1)
                return first[0] if len(first) > 1 else os.path.basename(root)
        return os.path.basename(os.path.dirname(path))

    def report(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The summary and the kept events, safe to call from another thread."""
        with self._lock:
            return dict(self.summary), list(self.events)

    # -- manifest ------------------------------------------------------------

    def _load(self, path: Path) -> None:
        if not path.exists() and not path.is_symlink():
            return
        try:
            document = json.loads(read_text(path, MAX_MANIFEST_BYTES))
        except (OSError, ValueError) as exc:
            raise SourceError(f"{path}: cannot read the integrity manifest: {exc}") from None
        files = document.get("files") if isinstance(document, dict) else None
        if not isinstance(files, dict):
            raise SourceError(f"{path}: not an integrity manifest")
        for name, item in files.items():
            try:
                record = FileRecord(
                    int(item["size"]), int(item["mtime_ns"]), item.get("sha256"),
                    item.get("verified"),
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                continue
            if isinstance(name, str) and (record.sha256 is None or isinstance(record.sha256, str)):
                self.records[name] = record
        self._scanned = bool(self.records)  # files new since the last run count as added

    def _save(self, path: Path) -> None:
        files = {
            name: {k: v for k, v in asdict(r).items() if k in ("size", "mtime_ns", "sha256",
                                                                "verified")}
            for name, r in self.records.items()
            if r.sha256 is not None
        }  # fmt: skip
        temporary = path.with_name(path.name + ".tmp")
        with contextlib.suppress(OSError):
            temporary.write_text(json.dumps({"version": 1, "files": files}), encoding="utf-8")
            os.replace(temporary, path)


class IntegritySource(Source):
    """Hashes in a worker thread between polls; a poll only reports (it never waits
    for hashing, so the agent's cycle time does not depend on the tree's size)."""

    type = "integrity"

    def __init__(self, tree: ModelTree, interval: float, node: str | None = None) -> None:
        self.tree = tree
        self.name = "integrity"
        self.interval = interval
        self.node = node or socket.gethostname().split(".")[0]
        self._step: asyncio.Task[None] | None = None

    async def poll(self) -> Batch:
        step = self._step
        if step is not None and step.done():
            self._step = None
            error = step.exception()
            if error is not None:
                raise SourceError(f"integrity scan failed: {error}")
        if self._step is None:
            self._step = asyncio.create_task(asyncio.to_thread(self.tree.step))
        summary, events = self.tree.report()
        node_ref = make_ref("node", self.node)
        entities = [Entity(node_ref, self.node, attrs={"integrity": summary})]
        for event in events:
            title = f"{event['change']} {event['file']}"
            ref = make_ref("event", self.node, f"integrity-{event['seq']}")
            entities.append(Entity(ref, title, node_ref, attrs=event))
        return Batch(entities=entities)

    async def settle(self) -> None:
        """Wait for the step in progress, if any, to finish."""
        if self._step is not None:
            with contextlib.suppress(Exception):
                await self._step

    async def close(self) -> None:
        self.tree.stop.set()
        await self.settle()


def _make(context: SourceContext) -> Sequence[Source]:
    options = context.options
    paths = options["paths"]
    if not paths or not all(isinstance(p, str) and p for p in paths):
        raise ValueError("'paths' must be a list of directories")
    base = Path(context.base_dir)
    for path in paths:
        # A file where a directory belongs is a typo; a missing directory is not refused
        # here (a volume may be mounted later): the source says so while it is missing.
        if (base / path).exists() and not (base / path).is_dir():
            raise ValueError(f"'paths': {path} is not a directory")
    manifest = options["manifest"]
    tree = ModelTree(
        [str(base / p) for p in paths],
        patterns=options["patterns"],
        budget_bytes=int(float(options["budget_mb"]) * (1 << 20)),
        reverify_seconds=float(options["reverify_hours"]) * 3600,
        manifest=base / manifest if manifest else None,
    )
    return [IntegritySource(tree, float(options["interval"]))]


INTEGRITY_SOURCE = SourceType(
    name="integrity",
    factory=_make,
    options=(
        Option("paths", (list,), required=True, help="model directories to watch"),
        Option("patterns", (list,), list(WEIGHT_PATTERNS), help="file name globs watched"),
        Option("budget_mb", (float,), 1024, help="MiB hashed per cycle at most"),
        Option("interval", (float,), 10.0, help="seconds per cycle"),
        Option("reverify_hours", (float,), 24, help="re-hash unchanged files this often"),
        Option("manifest", (str,), "", help="file keeping hashes between runs"),
    ),
    help="SHA-256 of model weight files; changes, additions and removals are events",
)
