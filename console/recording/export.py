"""A recording, or a stretch of it, as one self-contained file (for a bug report)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from console.recording.layout import SCHEMA_SQL, kept_histories
from console.recording.reader import Recording


def export_recording(recording: Recording, output: Path, since: float, until: float) -> int:
    """Copy the frames from the keyframe at or before ``since`` to ``until`` into a new
    SQLite file (no -wal beside it: copied as is, opened by ``replay``). Frames copied."""
    start = recording.keyframe_at(since)
    db = sqlite3.connect(output, isolation_level=None, uri=True)
    try:
        db.execute("PRAGMA journal_mode=DELETE")
        db.executescript(SCHEMA_SQL)
        db.execute("ATTACH DATABASE ? AS source", (f"file:{recording.file}?mode=ro",))
        db.execute("BEGIN")
        db.execute("INSERT INTO meta SELECT * FROM source.meta")
        db.execute("INSERT INTO schemas SELECT * FROM source.schemas")
        copied = db.execute(
            "INSERT INTO frames SELECT * FROM source.frames WHERE time >= ? AND time <= ?",
            (start, until),
        ).rowcount
        db.execute(
            "INSERT INTO incidents SELECT * FROM source.incidents WHERE time >= ? AND time <= ?",
            (start, until),
        )
        if db.execute("SELECT 1 FROM source.sqlite_master WHERE name='history'").fetchone():
            # The copied keyframes' job histories, and the bases they add to.
            db.execute(
                "INSERT INTO history SELECT * FROM source.history "
                f"WHERE time IN ({kept_histories('source.history')})"
            )
        db.execute("COMMIT")
        db.execute("DETACH DATABASE source")
    except BaseException:
        db.close()
        output.unlink(missing_ok=True)
        raise
    db.close()
    return copied
