"""Switching the recorder on for a console, ``serve`` or a headless watcher: one call."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from console.recording.layout import default_recording, demo_recording
from console.recording.recorder import Recorder, RecorderBusy

if TYPE_CHECKING:
    from console.core.config import HistoryConfig
    from console.core.engine import Engine


def recording_path(history: HistoryConfig, demo: bool) -> Path:
    """Where this run records: the demo its own (begun afresh), else the configured one."""
    if demo:
        return demo_recording()
    return history.path or default_recording()


def start_recording(
    engine: Engine, history: HistoryConfig, demo: bool = False
) -> tuple[Recorder | None, str | None]:
    """The recorder listening to ``engine`` (``None`` when off), and a notice when it
    could not start (another console records there, the disk refuses: the console
    goes on without it) or set an older recording aside."""
    if not history.enabled:
        return None, None
    path = recording_path(history, demo)
    try:
        recorder = Recorder(path, keep=history.keep, max_mb=history.max_mb, fresh=demo)
    except (RecorderBusy, OSError, sqlite3.Error) as exc:
        return None, f"not recording: {exc}"
    recorder.attach(engine)
    return recorder, recorder.notice
