"""What the agent knows about its own security: its posture, refused requests,
and guard events posted by local inference gateways and guardrails.

Guard events arrive on ``POST /v1/events`` (see ``docs/security.md`` for the
schema). They are checked field by field, bounded in size and rate, kept in a
bounded ring, and reported as ``event/<node>/guard-<n>`` entities with the
node's snapshot, so the console needs no second channel.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from console.core.model import SEVERITIES, Entity, make_ref

MAX_EVENTS_BODY = 64 * 1024
"""Largest ``POST /v1/events`` body (bytes); more gets 413 and nothing is stored."""
MAX_EVENTS_PER_POST = 100
RING = 500
"""Guard events kept (newest)."""
RATE = 20.0
"""Guard events accepted per second, sustained (more get 429)."""
BURST = 200
"""Guard events accepted at once after a quiet spell."""
MAX_REMOTES = 256
"""Distinct addresses whose refused requests are counted (the oldest are forgotten)."""
FIELDS: dict[str, tuple[type | tuple[type, ...], int, bool]] = {
    # name: (type, longest string, required)
    "kind": (str, 64, True),
    "severity": (str, 16, True),
    "model": (str, 128, True),
    "excerpt": (str, 512, False),
    "source": (str, 128, False),
    "request_id": (str, 128, False),
    "time": ((int, float), 0, False),
    "score": ((int, float), 0, False),
}
"""The guard event schema: anything else in an event is refused."""


class EventError(ValueError):
    """A guard event body that does not follow the schema; the message says why."""


def parse_guard_events(document: Any, now: float) -> list[dict[str, Any]]:
    """Validated events from a posted document (one event, or ``{"events": [...]}``)."""
    if isinstance(document, dict) and "events" in document:
        if set(document) != {"events"}:
            raise EventError('a batch is {"events": [...]} and nothing else')
        items = document["events"]
        if not isinstance(items, list) or not items:
            raise EventError("'events' must be a non-empty list")
    else:
        items = [document]
    if len(items) > MAX_EVENTS_PER_POST:
        raise EventError(f"at most {MAX_EVENTS_PER_POST} events per request")
    return [_event(item, index, now) for index, item in enumerate(items)]


def _event(item: Any, index: int, now: float) -> dict[str, Any]:
    where = f"event {index}"
    if not isinstance(item, dict):
        raise EventError(f"{where}: must be an object")
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        raise EventError(f"{where}: unknown field {unknown[0][:40]!r}")
    event: dict[str, Any] = {}
    for name, (kind, longest, required) in FIELDS.items():
        value = item.get(name)
        if value is None:
            if required:
                raise EventError(f"{where}: missing {name!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, kind):
            raise EventError(f"{where}: {name!r} has the wrong type")
        if isinstance(value, str) and (not value or len(value) > longest):
            raise EventError(f"{where}: {name!r} must be 1 to {longest} characters")
        if isinstance(value, int | float) and not math.isfinite(value):
            raise EventError(f"{where}: {name!r} must be a finite number")
        event[name] = value
    if event["severity"] not in SEVERITIES:
        raise EventError(f"{where}: 'severity' must be one of {', '.join(SEVERITIES)}")
    if "score" in event and not 0 <= event["score"] <= 1:
        raise EventError(f"{where}: 'score' must be between 0 and 1")
    # A gateway's clock may be off, or lie: never in the future, never before a day ago.
    event["time"] = min(now, max(now - 86_400, float(event.get("time", now))))
    return event


class TokenBucket:
    """Accepts ``rate`` per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._level = burst
        self._at = clock()

    def take(self, count: int) -> bool:
        """Take ``count`` tokens if there are that many."""
        now = self.clock()
        self._level = min(self.burst, self._level + (now - self._at) * self.rate)
        self._at = now
        if count > self._level:
            return False
        self._level -= count
        return True


class AgentSecurity:
    """The agent's posture, its refused requests and the guard events it holds."""

    def __init__(self, posture: dict[str, Any], clock: Callable[[], float] = time.time) -> None:
        self.posture = posture
        """TLS, token, client certificates, listen address: shown in the security pane."""
        self.clock = clock
        self.guard: deque[dict[str, Any]] = deque(maxlen=RING)
        self.refused: OrderedDict[str, dict[str, Any]] = OrderedDict()
        """Remote address → {count, first, last, path} of requests refused with 401."""
        self.rate = TokenBucket(RATE, BURST)
        self.dropped = 0
        """Guard events refused for the rate limit."""
        self._seq = 0

    def auth_failed(self, remote: str | None, path: str) -> None:
        """Count a request refused for a wrong or missing token."""
        key = (remote or "unknown")[:64]
        now = self.clock()
        entry = self.refused.pop(key, None) or {"count": 0, "first": now}
        entry.update(count=entry["count"] + 1, last=now, path=path[:128])
        self.refused[key] = entry  # most recent last
        while len(self.refused) > MAX_REMOTES:
            self.refused.popitem(last=False)

    def add_guard_events(self, events: list[dict[str, Any]], remote: str | None) -> bool:
        """Store validated events; False (nothing stored) when over the rate."""
        if not self.rate.take(len(events)):
            self.dropped += len(events)
            return False
        for event in events:
            self._seq += 1
            self.guard.append({**event, "seq": self._seq, "remote": (remote or "")[:64]})
        return True

    def entities(self, node: str) -> list[Entity]:
        """The node's posture (as node attributes) and its security events."""
        node_ref = make_ref("node", node)
        agent = {**self.posture, "refused": sum(e["count"] for e in self.refused.values()),
                 "guard_dropped": self.dropped}  # fmt: skip
        entities = [Entity(node_ref, node, attrs={"agent": agent})]
        for remote, entry in self.refused.items():
            ref = make_ref("event", node, f"auth-{remote}")
            attrs = {"category": "auth", "severity": "warning", "remote": remote,
                     "time": entry["last"], **entry}  # fmt: skip
            entities.append(Entity(ref, f"refused {entry['count']}× from {remote}", node_ref,
                                   attrs))  # fmt: skip
        for event in self.guard:
            ref = make_ref("event", node, f"guard-{event['seq']}")
            name = f"{event['kind']} on {event['model']}"
            entities.append(Entity(ref, name, node_ref, {"category": "guard", **event}))
        return entities
