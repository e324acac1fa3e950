"""What a page says: labels that identify it, annotations that explain it.

Labels are the alert's identity in Alertmanager (it deduplicates on them), so
they hold only what is stable while the finding lasts: the kind, severity, ref,
the nodes and jobs it touches and the cluster. The changing words (evidence,
ranked causes) are annotations, refreshed on every re-send.
"""

from __future__ import annotations

import time

from console.alerting.config import AlertingConfig
from console.alerting.rules import Candidate
from console.analysis.causes import explain, link_jobs
from console.core.headless import causes_lines
from console.core.model import ref_kind
from console.core.store import Store
from console.core.text import plain

MAX_ANNOTATION = 4000
"""Characters kept per annotation: a page, not a log."""
MAX_LABEL = 200
TOP_CAUSES = 5


def _joined(values: set[str]) -> str:
    return plain(",".join(sorted(values)), MAX_LABEL)


def alert_labels(candidate: Candidate, config: AlertingConfig) -> dict[str, str]:
    """``alertname`` (the finding kind), ``severity``, ``ref``, ``node``, ``job``, ``cluster``."""
    found = {
        "alertname": candidate.finding.kind,
        "severity": candidate.severity,
        "ref": plain(candidate.finding.ref, MAX_LABEL),
        "node": _joined(candidate.scopes.get("node", set())),
        "job": _joined(candidate.scopes.get("job", set())),
        "cluster": config.cluster,
        "source": "watchfloor",
    }
    return {key: value for key, value in found.items() if value}  # empty = absent in Alertmanager


def console_command(ref: str) -> str:
    """The command that opens this finding in the console."""
    if ref_kind(ref) == "job":
        return f"watchfloor explain {ref.removeprefix('job/')}"
    return f"watchfloor, then :goto {ref}"


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def alert_annotations(store: Store, candidate: Candidate, config: AlertingConfig) -> dict[str, str]:
    """Summary, evidence, the ranked causes in ``explain``'s words, runbook, console."""
    finding = candidate.finding
    found = {
        "summary": finding.title,
        "description": "\n".join(finding.evidence),
        "console": console_command(finding.ref),
    }
    if ref_kind(finding.ref) == "job":
        result = explain(store, finding.ref)
        if result is not None and result.causes:
            found["causes"] = "\n".join(causes_lines(result, limit=TOP_CAUSES))
            top = result.causes[0]
            related = f"; related: {', '.join(top.related)}" if top.related else ""
            found["top_cause"] = f"{top.ref} [{top.kind}] score {top.score:.2f}{related}"
    elif ref_kind(finding.ref) == "link":
        crossing = link_jobs(store, finding.ref)
        if crossing:
            found["jobs"] = "\n".join(f"{job} {share:.0%}: {why}" for job, share, why in crossing)
    runbook = config.runbook(finding.kind)
    if runbook:
        found["runbook_url"] = runbook
    if config.console_url:
        found["console_url"] = config.console_url
    if finding.since is not None:
        found["since"] = _iso(finding.since)
    if candidate.inhibits:
        found["inhibits"] = ", ".join(candidate.inhibits)
    return {key: _text(value) for key, value in found.items() if value}


def _text(value: str) -> str:
    """Plain lines (no control characters, remote strings stay text), bounded."""
    text = "\n".join(plain(line, MAX_ANNOTATION) for line in value.split("\n"))
    return text if len(text) <= MAX_ANNOTATION else text[: MAX_ANNOTATION - 1] + "…"
