"""The flight recorder: record every cycle, read the fleet back at any second.

:class:`Recorder` writes (a writer thread, never the UI's loop); :class:`Recording`
reads (``snapshot --at``, ``explain --at``, ``replay`` and the TUI's rewind, each off
the UI's loop); :func:`parse_time` reads the ``--at`` forms.
"""

from console.recording.layout import default_recording, demo_recording, state_dir
from console.recording.reader import Incident, Moment, Recording, RecordingError
from console.recording.recorder import Recorder, RecorderBusy
from console.recording.timespec import parse_time

__all__ = [
    "Incident",
    "Moment",
    "Recorder",
    "RecorderBusy",
    "Recording",
    "RecordingError",
    "default_recording",
    "demo_recording",
    "parse_time",
    "state_dir",
]
