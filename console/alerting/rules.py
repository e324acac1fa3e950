"""Which findings page, at what severity, after how long; and which stay quiet
because a bigger finding already covers them (inhibition).

Inhibition works on finding kinds and refs only, so it applies to kinds other
analyses add later (port health's ``link-down``) without knowing them: a finding
is inhibited by another one that matches an ``inhibit`` rule's ``source`` and
touches the same entity in each ``equal`` scope (the same switch, node, job or
ref). When the two kinds are alike (``source: link-down, target: link-down,
equal: [switch]``), the first of each group pages for all of them: the site is
paged once per switch, not once per port.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.alerting.config import AlertingConfig, Inhibit, Rule
from console.core.model import Finding, ref_kind
from console.core.store import Store

DEFAULT_RULE = Rule(match=("*",))
"""Findings no rule matches page at their own severity, at once."""


@dataclass
class Candidate:
    """A finding that pages (once held for ``hold`` seconds), with its scopes."""

    finding: Finding
    severity: str
    hold: float
    scopes: dict[str, set[str]]
    inhibits: list[str] = field(default_factory=list)
    """Refs of the findings this one stands for (inhibited by it)."""

    @property
    def key(self) -> str:
        """Stable identity of the alert: the same finding is the same alert, always."""
        return f"{self.finding.kind}|{self.finding.ref}"


def rule_for(config: AlertingConfig, kind: str) -> Rule:
    """The first rule matching ``kind`` (or the default: page as found)."""
    return next((rule for rule in config.rules if rule.matches(kind)), DEFAULT_RULE)


def _owner(port_ref: str) -> str:
    """``port/leaf01/p3`` → ``leaf01``."""
    parts = port_ref.split("/")
    return parts[1] if len(parts) >= 3 else ""


def scopes(store: Store, finding: Finding) -> dict[str, set[str]]:
    """The nodes, switches and jobs a finding touches, by name (and its ref)."""
    nodes: set[str] = set()
    switches: set[str] = set()
    jobs: set[str] = set()

    def touch(ref: str) -> None:
        kind = ref_kind(ref)
        parts = ref.split("/")
        if kind == "node" and len(parts) > 1:
            nodes.add(parts[1])
        elif kind == "switch" and len(parts) > 1:
            switches.add(parts[1])
        elif kind == "gpu" and len(parts) > 1:
            nodes.add(parts[1])
        elif kind == "job" and len(parts) > 1:
            jobs.add(parts[1])
            job = store.get(ref)
            if job is not None and ref == finding.ref:
                nodes.update(str(n).removeprefix("node/") for n in job.attrs.get("nodes", []))
        elif kind in ("port", "link"):
            ends = [ref] if kind == "port" else ref.removeprefix("link/").split("~")
            for end in ends:
                name = _owner(end if end.startswith("port/") else f"port/{end}")
                if not name:
                    continue
                if store.get(f"switch/{name}") is not None:
                    switches.add(name)
                elif store.get(f"node/{name}") is not None:
                    nodes.add(name)
                elif "~" not in ref:
                    switches.add(name)  # a port of something unknown: count it by its owner

    touch(finding.ref)
    for ref in finding.related:
        if ref_kind(ref) == "job":
            jobs.add(ref.removeprefix("job/"))
    if ref_kind(finding.ref) == "gpu":
        jobs.update(_gpu_jobs(store).get(finding.ref, ()))
    return {"ref": {finding.ref}, "node": nodes, "switch": switches, "job": jobs}


def _gpu_jobs(store: Store) -> dict[str, list[str]]:
    """GPU ref → ids of the jobs on it; built once per store version, not per finding."""
    cached = store.analysis_state.get("alerting_gpu_jobs")
    if cached is not None and cached[0] == store.version:
        return cached[1]
    found: dict[str, list[str]] = {}
    for job in store.of_kind("job"):
        for gpu in job.attrs.get("gpus", []):
            found.setdefault(str(gpu), []).append(job.ref.removeprefix("job/"))
    store.analysis_state["alerting_gpu_jobs"] = (store.version, found)
    return found


def _kinds_match(patterns: tuple[str, ...], kind: str) -> bool:
    return Rule(match=patterns).matches(kind)


def _inhibited_by(rule: Inhibit, source: Candidate, target: Candidate) -> bool:
    if source is target:
        return False
    if not (_kinds_match(rule.source, source.finding.kind)
            and _kinds_match(rule.target, target.finding.kind)):  # fmt: skip
        return False
    return all(source.scopes.get(s, set()) & target.scopes.get(s, set()) for s in rule.equal)


def paging(store: Store, findings: list[Finding], config: AlertingConfig) -> list[Candidate]:
    """The findings that page now (before their hold time), inhibited ones left out."""
    candidates = []
    for finding in findings:
        rule = rule_for(config, finding.kind)
        if not rule.page:
            continue
        candidates.append(Candidate(finding, rule.severity or finding.severity, rule.hold,
                                    scopes(store, finding)))  # fmt: skip
    if not config.inhibit:
        return candidates
    # Findings that are only ever sources go first, then by ref: the survivor of a
    # group of like findings is always the same one, cycle after cycle.
    targets = {c.key for c in candidates for r in config.inhibit
               if _kinds_match(r.target, c.finding.kind)}  # fmt: skip
    ordered = sorted(candidates, key=lambda c: (c.key in targets, c.finding.ref, c.finding.kind))
    # Survivors that can inhibit, indexed per rule by their first `equal` scope's
    # values: an outage of thousands of ports stays linear, not quadratic.
    index: list[dict[str, list[Candidate]]] = [{} for _ in config.inhibit]
    survivors: list[Candidate] = []
    for candidate in ordered:
        by = _inhibitor(config.inhibit, index, candidate)
        if by is not None:
            by.inhibits.append(candidate.finding.ref)
            continue
        survivors.append(candidate)
        for inhibit, by_value in zip(config.inhibit, index, strict=True):
            if _kinds_match(inhibit.source, candidate.finding.kind):
                for value in _first_scope(inhibit, candidate):
                    by_value.setdefault(value, []).append(candidate)
    return survivors


def _first_scope(rule: Inhibit, candidate: Candidate) -> set[str]:
    return candidate.scopes.get(rule.equal[0], set()) if rule.equal else {""}


def _inhibitor(
    rules: tuple[Inhibit, ...], index: list[dict[str, list[Candidate]]], target: Candidate
) -> Candidate | None:
    """The first survivor that inhibits ``target``, if any."""
    for rule, by_value in zip(rules, index, strict=True):
        if not _kinds_match(rule.target, target.finding.kind):
            continue
        for value in sorted(_first_scope(rule, target)):
            for source in by_value.get(value, ()):
                if _inhibited_by(rule, source, target):
                    return source
    return None
