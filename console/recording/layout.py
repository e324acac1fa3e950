"""The recording's tables, and where its file lies."""

from __future__ import annotations

import os
from pathlib import Path

DATABASE = "frames.sqlite"
"""The file inside a recording's directory (with SQLite's -wal and -shm beside it)."""

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS frames (
    time REAL PRIMARY KEY,          -- the cycle's sample time (the store's clock)
    keyframe INTEGER NOT NULL,      -- 1: the whole state; 0: what changed since the last frame
    body BLOB NOT NULL,             -- msgpack(document), parts zstd, see console.recording.codec
    schema_floor INTEGER            -- the lowest schema row it refers to (for trimming)
);
CREATE INDEX IF NOT EXISTS keyframes ON frames (keyframe, time);
CREATE TABLE IF NOT EXISTS schemas (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS history (  -- since version 7: a keyframe's job history
    time REAL PRIMARY KEY,          -- the keyframe's
    base REAL NOT NULL,             -- the keyframe whose history this one adds to (itself: whole)
    body BLOB NOT NULL              -- zstd(msgpack), see console.recording.codec.history_since
);
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, ref TEXT NOT NULL, kind TEXT NOT NULL,
    severity TEXT NOT NULL, title TEXT NOT NULL,
    keep_from REAL NOT NULL, keep_to REAL NOT NULL  -- kept past `keep` between these
);
"""


def kept_histories(history: str = "history") -> str:
    """SQL of the times of the job history rows a recording keeps: each keyframe's in
    its ``frames``, and the bases they add to (read from the table ``history``: a
    recording's own, or the one an export copies from)."""
    keyframes = "SELECT time FROM frames WHERE keyframe=1"
    return f"{keyframes} UNION SELECT base FROM {history} WHERE time IN ({keyframes})"


def state_dir() -> Path:
    """``$XDG_STATE_HOME/watchfloor`` (``~/.local/state/watchfloor``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "watchfloor"


def default_recording() -> Path:
    """Where the console records by default."""
    return state_dir() / "recording"


def demo_recording() -> Path:
    """Where ``demo`` records: its own, begun afresh each run (the simulator's clock
    starts over, so a demo's times would collide with the last one's)."""
    return state_dir() / "demo-recording"


def database_file(path: Path) -> Path:
    """The SQLite file of a recording given as its directory or as the file itself."""
    return path / DATABASE if path.is_dir() or not path.suffix else path
