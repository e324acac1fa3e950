"""The alerts Watchfloor has open, and the resolutions it still owes: kept in a small
state file so that a restart neither pages twice nor forgets to resolve.

An alert's identity is its finding's kind and ref: the same stalled job is the
same alert after a restart (same labels, same ``startsAt``), so Alertmanager
deduplicates it. A finding that cleared while Watchfloor was down is resolved on
the first cycle after the restart, because the state file still holds it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from console.alerting.config import AlertingConfig
from console.alerting.content import alert_annotations, alert_labels
from console.alerting.rules import Candidate
from console.core.store import Store

log = logging.getLogger(__name__)

STATE_VERSION = 1
MAX_STATE_BYTES = 64 * 1024 * 1024
"""A state file larger than this is not ours (or is corrupt): start afresh."""
MAX_ALERTS = 5000
"""Open alerts kept at most (a flood of findings must not grow memory without bound)."""
RESOLVED_KEEP = 24 * 3600.0
"""A resolution no sink could deliver for this long is given up."""


@dataclass
class Alert:
    """One alert: pending (held by ``for:``), firing, or resolved and not yet delivered."""

    key: str
    labels: dict[str, str]
    annotations: dict[str, str]
    first_seen: float
    """When the finding was first seen (the ``for:`` hold counts from here)."""
    hold: float = 0.0
    starts_at: float | None = None
    """When it started to page; ``None`` while pending."""
    ends_at: float | None = None
    """When it was resolved."""
    annotated_at: float = 0.0
    owed: list[str] = field(default_factory=list)
    """Sinks that have not yet been told of its last change (fired, resolved)."""

    @property
    def firing(self) -> bool:
        return self.starts_at is not None and self.ends_at is None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        return cls(
            key=str(data["key"]),
            labels={str(k): str(v) for k, v in dict(data["labels"]).items()},
            annotations={str(k): str(v) for k, v in dict(data.get("annotations", {})).items()},
            first_seen=float(data["first_seen"]),
            hold=float(data.get("hold", 0.0)),
            starts_at=None if data.get("starts_at") is None else float(data["starts_at"]),
            ends_at=None if data.get("ends_at") is None else float(data["ends_at"]),
            annotated_at=float(data.get("annotated_at", 0.0)),
            owed=[str(s) for s in data.get("owed", [])],
        )


class AlertBook:
    """Open and owed alerts; updated once per analysis cycle."""

    def __init__(self, config: AlertingConfig, sinks: list[str], path: Path | None = None) -> None:
        self.config = config
        self.sinks = list(sinks)
        """Names of the senders that must hear of each change."""
        self.path = path
        self.open: dict[str, Alert] = {}
        """Pending and firing alerts by key."""
        self.resolved: list[Alert] = []
        """Resolved alerts some sink has not been told of yet."""
        self.version = 0
        """Bumped on every change the senders should act on."""
        if path is not None:
            self.load(path)

    # -- each cycle -----------------------------------------------------------

    def update(self, store: Store, candidates: list[Candidate], now: float) -> bool:
        """Apply one cycle's paging findings; True when something fired or resolved."""
        changed = False
        seen = set()
        for candidate in candidates[:MAX_ALERTS]:
            key = candidate.key
            seen.add(key)
            alert = self.open.get(key)
            new_labels = alert_labels(candidate, self.config)
            if alert is not None and alert.firing and alert.labels != new_labels:
                # Different labels are a different alert to Alertmanager: close the old one.
                self._resolve(alert, now)
                alert = None
                changed = True
            if alert is None:
                alert = self.open[key] = Alert(key, new_labels, {}, first_seen=now)
            alert.labels, alert.hold = new_labels, candidate.hold
            held = now - alert.first_seen
            since, sampled = candidate.finding.since, store.time
            if since is not None and sampled is not None:
                # Held since it began (in the samples' own clock: a simulator's, or wall
                # time), even if this process saw it only now.
                held = max(held, sampled - since)
            due = held >= candidate.hold
            if alert.starts_at is None and due:
                alert.starts_at = now
                alert.owed = list(self.sinks)
                changed = True
            stale = now - alert.annotated_at >= self.config.resend
            # A stall paged before its cause was known asks again each cycle until it is.
            causeless = alert.key.startswith("job-") and "causes" not in alert.annotations
            if alert.firing and (alert.starts_at == now or stale or causeless):
                alert.annotations = alert_annotations(store, candidate, self.config)
                alert.annotated_at = now
        for key in [k for k in self.open if k not in seen]:
            alert = self.open.pop(key)
            if alert.firing:
                self._resolve(alert, now)
                changed = True
        before = len(self.resolved)
        self.resolved = [
            a for a in self.resolved if a.owed and now - (a.ends_at or now) < RESOLVED_KEEP
        ]
        if changed or before != len(self.resolved):
            self.version += 1
            self.save()
        return changed

    def _resolve(self, alert: Alert, now: float) -> None:
        alert.ends_at = now
        alert.owed = list(self.sinks)
        self.resolved.append(alert)

    # -- for the senders --------------------------------------------------------

    def firing(self) -> list[Alert]:
        """Alerts paging now."""
        return [a for a in self.open.values() if a.firing]

    def owed_to(self, sink: str) -> list[Alert]:
        """Changes (fired, resolved) ``sink`` has not delivered yet, oldest first."""
        owed = [a for a in self.open.values() if a.firing and sink in a.owed]
        owed += [a for a in self.resolved if sink in a.owed]
        return owed

    def delivered(self, sink: str, alerts: list[Alert]) -> None:
        """``sink`` delivered these; resolutions every sink delivered are dropped."""
        for alert in alerts:
            if sink in alert.owed:
                alert.owed.remove(sink)
        self.resolved = [a for a in self.resolved if a.owed]
        self.save()

    # -- the state file -----------------------------------------------------------

    def save(self) -> None:
        """Write the state file atomically (readable by this user only)."""
        if self.path is None:
            return
        document = {
            "version": STATE_VERSION,
            "open": [a.to_json() for a in self.open.values()],
            "resolved": [a.to_json() for a in self.resolved],
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=".alerts-", dir=self.path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out)
            os.replace(temp, self.path)
        except OSError as exc:
            log.warning("cannot write alert state %s: %s", self.path, exc)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temp)

    def reload(self) -> None:
        """Read the state file again (another book over the same file wrote it last)."""
        self.open, self.resolved = {}, []
        if self.path is not None:
            self.load(self.path)

    def load(self, path: Path) -> None:
        try:
            # Non-blocking open: a FIFO planted at the path must not hang the start.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot read alert state %s: %s", path, exc)
            return
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_STATE_BYTES:
                log.warning("alert state %s is not a small regular file: ignored", path)
                return
            with os.fdopen(fd, "rb", closefd=False) as handle:
                data = json.loads(handle.read(MAX_STATE_BYTES + 1))
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise ValueError("unknown state version")
            self.open = {a.key: a for a in map(Alert.from_json, data.get("open", []))}
            self.resolved = [Alert.from_json(a) for a in data.get("resolved", [])]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("alert state %s unreadable (%s): starting afresh", path, exc)
            self.open, self.resolved = {}, []
        finally:
            os.close(fd)
        for alert in [*self.open.values(), *self.resolved]:
            # A sink added since: it owes what fired; a sink removed owes nothing.
            alert.owed = [s for s in alert.owed if s in self.sinks]
