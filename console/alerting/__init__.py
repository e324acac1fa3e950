"""Findings to the pager: rules, Alertmanager, webhook, findings as metrics.

Alerting is a consumer of an analysis cycle's findings (``console.collector.watch``), not
part of any UI: ``watch`` runs it headless, ``serve`` runs it next to its one
collector, and it would run unchanged beside a collector in another process.

    findings ──► rules (page? severity, for:, inhibition) ──► AlertBook (state file)
                                                                 │
                                      Alertmanager sender ◄──────┼──────► webhook sender
"""
