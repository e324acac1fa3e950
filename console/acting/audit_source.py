"""The ``actions`` source: the audit log read back as security-timeline events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from console.acting.actions import audit_event, read_audit
from console.api import Batch, Source, SourceError


class AuditSource(Source):
    """Every console action attempted (from this console or another sharing the log)."""

    type = "actions"
    interval = 2.0
    timeout = 5.0

    def __init__(self, path: Path) -> None:
        self.name = "actions"
        self.path = path
        """The audit log."""

    async def poll(self) -> Batch:
        try:
            entries = await asyncio.to_thread(read_audit, self.path)
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        events = [audit_event(entry) for entry in entries]
        return Batch(entities=[event for event in events if event is not None])
