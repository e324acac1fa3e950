"""Rewind: the console over its own recording, at any second of it.

The app's panes read ``app.store``; rewinding swaps in a store rebuilt from the
recording at that second (and swaps the live one back for ``L``). The rebuild runs in
a thread, never on the UI's loop: the recording is read there, the store is made
there, and only the finished store is handed over.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Collection
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from console.core.text import plain
from console.recording import Incident, Moment, Recording
from console.recording.layout import database_file
from console.recording.timespec import parse_duration, parse_time

if TYPE_CHECKING:
    from console.ui.app import WatchfloorApp

WARM_SECONDS = 120.0
"""Recorded seconds replayed before the moment, so sparklines have their history."""
WARM_ENTITIES = 2000
"""Past this many entities the warm-up is skipped (a fleet's seek stays quick)."""
HOUR = 3600.0
"""What ``H`` spans."""
STEP = 10.0
BIG_STEP = 60.0
"""``[``/``]`` and with shift: seconds per step."""
_ATTRS = attrgetter("attrs")
PREPARE_AFTER = 30.0
"""Recorded seconds before a live console's reader makes ahead what a first seek makes
(:meth:`RewindReader.prepare`): by then the recording's keys are the fleet's (its first
seconds may lack a source still starting)."""


class RewindReader:
    """The recording, read from worker threads one at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._recording: Recording | None = None
        self._ready = False
        """Whether a seek, or :meth:`prepare`, made what a first seek makes."""

    def _open(self) -> Recording:
        if self._recording is None:
            self._recording = Recording(self.path, threads=True)
        return self._recording

    def span(self) -> tuple[float, float] | None:
        """First and last recorded time (call in a thread)."""
        with self._lock:
            return self._open().span()

    def incidents(self) -> list[Incident]:
        """The marked incidents (call in a thread)."""
        with self._lock:
            return self._open().incidents()

    def prepare(self, since: float) -> bool:
        """Make ahead, once the recording holds :data:`PREPARE_AFTER` seconds recorded
        from ``since`` on (this session's first data: a recording kept from earlier
        sessions is long at once, while a large fleet still lands), what the first seek
        makes (``Recording.prepare``: a first seek at 1,000 nodes cost 300-430 ms, any
        other ~130), so that the first rewind key costs what any does. ``True`` once done
        (by this or by a seek); ``False`` while there is no recording yet (a collector
        about to make it). Call in a thread."""
        with self._lock:
            if not self._ready and (self._recording or database_file(self.path).is_file()):
                recording = self._open()
                span = recording.span()
                if span is not None and span[1] - max(span[0], since) >= PREPARE_AFTER:
                    self._ready = recording.prepare()
            return self._ready

    def load(self, when: float, hour: bool = False, attrs_of: Collection[str] = ()) -> Moment:
        """The fleet at ``when``, with up to two minutes of history, or with ``hour`` the
        last hour in 24 steps, every entity of the kinds ``attrs_of`` with its attrs read
        (what the pane on screen reads: :attr:`console.api.Pane.reads`). Call in a thread."""
        moment = self._load(when, hour)
        for kind in attrs_of:  # decoded here, not on the UI's loop when drawn
            deque(map(_ATTRS, moment.store.of_kind(kind)), maxlen=0)
        return moment

    def _load(self, when: float, hour: bool) -> Moment:
        with self._lock:
            recording = self._open()
            # The moment itself first: a fleet past WARM_ENTITIES is shown as it is (one
            # seek; seeking the warm-up's start first to learn its size cost it two).
            moment = recording.at(when)
            self._ready = True
            if len(moment.store.entities) > WARM_ENTITIES:
                return moment
            if hour:
                recording.hour_history(moment)
                return moment
            span = recording.span()
            start = when if span is None else max(span[0], when - WARM_SECONDS)
            first = moment = recording.at(start)
            for moment in recording.replay_from(first, when):  # noqa: B007 - the last one
                pass
            return moment

    def close(self) -> None:
        """Let go of the file."""
        with self._lock:
            if self._recording is not None:
                self._recording.close()
                self._recording = None


def banner(at: float, reference: float | None, origin: str | None = None) -> Text:
    """``REWIND 03:12:40 (8 min ago)``; with ``origin`` (a moment before the recording,
    read from the sources that keep their past) ``from prometheus:…``."""
    text = f"⏪ REWIND {time.strftime('%H:%M:%S', time.localtime(at))}"
    if reference is not None:
        ago = max(0.0, reference - at)
        text += f" ({ago / 60:.0f} min ago)" if ago >= 60 else f" ({ago:.0f} s ago)"
    if origin is not None:
        text += f" from {plain(origin, 80)}"
    return Text(text + " ", style="bold")


def target_time(text: str, reference: float, ago: bool) -> float:
    """``:at 03:12`` or ``:ago 10m`` as a time; ValueError saying the forms."""
    if ago:
        seconds = parse_duration(text.strip().lstrip("-"))
        if seconds is None:
            raise ValueError(f"{text.strip()!r}: ago takes 10m, 90s or 1h30m")
        return reference - seconds
    return parse_time(text, reference)


class IncidentsScreen(ModalScreen[float | None]):
    """``:incidents``: each marked incident; Enter opens it at its start."""

    DEFAULT_CSS = """
    IncidentsScreen { align: center middle; }
    IncidentsScreen > Vertical {
        width: 90; max-width: 100%; height: auto; max-height: 80%;
        border: round $rewind; background: $surface; padding: 0 1;
    }
    IncidentsScreen OptionList { height: auto; max-height: 20; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss_none", "Close")]

    def __init__(self, incidents: list[Incident]) -> None:
        super().__init__()
        self.incidents = incidents
        """Oldest first; shown newest first."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Incidents (new critical findings), newest first", style="bold"))
            if not self.incidents:
                yield Static("none recorded")
            else:
                options = []
                for incident in reversed(self.incidents):
                    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(incident.time))
                    label = Text(f"{when}  ")
                    label.append(plain(incident.kind, 30), style="bold")
                    label.append(f"  {plain(incident.title, 120)}")
                    options.append(Option(label))
                yield OptionList(*options)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        incident = list(reversed(self.incidents))[event.option_index]
        self.dismiss(incident.start)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


def rewind_keys() -> list[tuple[str, str]]:
    """Lines for the help screen."""
    return [
        ("[ / ]", f"rewind: {STEP:.0f} s back / forward"),
        ("{ / }", f"rewind: {BIG_STEP / 60:.0f} min back / forward (shift)"),
        (": at 03:12", "rewind to a time (: ago 10m, : incidents)"),
        ("H", "rewind: sparklines over the last hour / the last two minutes"),
        ("L", "back to live (or Esc at the top)"),
    ]


def attach_reader(app: WatchfloorApp) -> RewindReader | None:
    """A reader of the app's recording, if it has one."""
    return RewindReader(app.recording) if app.recording is not None else None
