"""The relay's checks and what a reading console makes of it (the format itself,
version 3, is ``console.collector.delta``).

``watchfloor serve`` runs one collector and every browser viewer reads it through
this document (``GET /v1/fleet``), so many viewers never multiply the polls on the
agents. Unlike an agent's snapshot, the relay speaks for the whole fleet (every
node, link and job), so refs of any kind are accepted; the shape is still
checked field by field, numbers must be finite and strings are bounded.

The readings are raw (counters as counters), each with its own time, so the
reading console turns counters into rates exactly as the collector did. The
first request asks for the timed history too (job series), which stall
detection and the job panes read; findings and source statuses are relayed as
the collector has them.
"""

from __future__ import annotations

import math
from typing import Any

from console.api import SourceStatus
from console.core.model import ENTITY_KINDS, METRICS, SEVERITIES, Entity, Finding, ref_kind
from console.core.store import Store

MAX_ITEMS = 500_000
"""Entities, refs with readings, or findings: at most this many each."""
MAX_TEXT = 1024
MAX_EVIDENCE = 64
TIMED_METRICS = frozenset(name for name, spec in METRICS.items() if spec.timed)


class RelayError(ValueError):
    """The document is not what a relay sends; the message says what is wrong."""


def _status_json(status: SourceStatus) -> dict[str, Any]:
    return {**status.to_json(), "last_ok": status.last_ok, "duration": status.duration}


def _text(value: Any, what: str, empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty) or len(value) > MAX_TEXT:
        raise RelayError(f"{what} must be a string of at most {MAX_TEXT} characters")
    return value


def _number(value: Any, what: str, optional: bool = True) -> float | None:
    if value is None and optional:
        return None
    try:  # (an integer of 400 digits is no float: OverflowError, not an answer)
        number = float(value) if type(value) in (int, float) else math.nan
    except OverflowError:
        number = math.nan
    if not math.isfinite(number):
        raise RelayError(f"{what} must be a finite number")
    return number


def _ref(value: Any, what: str) -> str:
    ref = _text(value, what)
    if ref_kind(ref) not in ENTITY_KINDS or "/" not in ref:
        raise RelayError(f"{what} {ref[:80]!r} is not a ref")
    return ref


def _list(document: dict[str, Any], key: str) -> list[Any]:
    return _bounded(document.get(key, []), key)


def _bounded(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise RelayError(f"{what} must be a list of at most {MAX_ITEMS}")
    return value


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) > MAX_ITEMS:
        raise RelayError(f"{what} must be an object of at most {MAX_ITEMS} keys")
    return value


def _entity(item: Any) -> Entity:
    if not isinstance(item, dict):
        raise RelayError("each entity must be an object")
    ref = _ref(item.get("ref"), "entity ref")
    parent = item.get("parent")
    if parent is not None:
        parent = _ref(parent, "parent")
    attrs = item.get("attrs", {})
    if not isinstance(attrs, dict):
        raise RelayError("entity attrs must be an object")
    return Entity(ref, _text(item.get("name"), "entity name"), parent, attrs)


def _finding(item: Any) -> Finding:
    if not isinstance(item, dict):
        raise RelayError("each finding must be an object")
    severity = item.get("severity")
    if severity not in SEVERITIES:
        raise RelayError(f"finding severity must be one of {', '.join(SEVERITIES)}")
    evidence = item.get("evidence", [])
    related = item.get("related", [])
    if not isinstance(evidence, list) or len(evidence) > MAX_EVIDENCE:
        raise RelayError("finding evidence must be a short list of lines")
    if not isinstance(related, list) or len(related) > MAX_ITEMS:
        raise RelayError("finding related must be a list of refs")
    return Finding(
        ref=_ref(item.get("ref"), "finding ref"),
        kind=_text(item.get("kind"), "finding kind"),
        severity=severity,
        title=_text(item.get("title"), "finding title", empty=True),
        since=_number(item.get("since"), "finding since"),
        evidence=[_text(line, "evidence line", empty=True) for line in evidence],
        related=[_ref(ref, "related ref") for ref in related],
    )


def _status(item: Any) -> SourceStatus:
    if not isinstance(item, dict):
        raise RelayError("each source status must be an object")
    status = item.get("status")
    if status not in ("ok", "stale", "failed", "disabled", "pending"):
        raise RelayError(f"unknown source status {str(status)[:40]!r}")
    polls, failures = item.get("polls", 0), item.get("failures", 0)
    if type(polls) is not int or type(failures) is not int:
        raise RelayError("source polls and failures must be integers")
    return SourceStatus(
        name=_text(item.get("name"), "source name"),
        type=_text(item.get("type"), "source type"),
        status=status,
        reason=_text(item.get("reason", ""), "source reason", empty=True),
        last_ok=_number(item.get("last_ok"), "source last_ok"),
        polls=polls,
        failures=failures,
        duration=_number(item.get("duration"), "source duration"),
    )


def relayed_findings(store: Store) -> list[Finding]:
    """Analyzer of a console that reads a relay: the collector's own findings.

    The collector saw every poll of the fleet; a viewer that joined later has not,
    so its findings are the collector's, and every viewer shows the same ones. Until
    the collector has analysed once, the store says its findings are pending.
    """
    findings: list[Finding] = []
    store.findings_pending = any(
        meta.get("relay_analysed") is False for meta in store.source_meta.values()
    )
    for meta in store.source_meta.values():
        relayed = meta.get("relay_findings")
        if isinstance(relayed, list):
            findings += relayed
            capped = meta.get("capped_since")
            if isinstance(capped, dict):
                store.analysis_state["capped_since"] = dict(capped)
    return findings


def expand_relayed(statuses: list[SourceStatus], store: Store) -> list[SourceStatus]:
    """The sources to show: each relay stands for the collector's own sources.

    A relay that answers is replaced by the sources behind it (which of those
    are lost is what matters); one that does not answer is shown too.
    """
    shown: list[SourceStatus] = []
    for status in statuses:
        meta = store.source_meta.get(status.name, {}) if status.type == "console" else {}
        behind = meta.get("relay_sources")
        if status.status != "ok" or not isinstance(behind, list):
            shown.append(status)
        if isinstance(behind, list):
            shown += behind
    return shown
