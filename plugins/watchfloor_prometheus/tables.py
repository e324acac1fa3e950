"""Every mapping table, by the name the ``exporter``/``exporters`` options use."""

from __future__ import annotations

from collections.abc import Sequence

from watchfloor_prometheus import (
    agent,
    dcgm,
    infiniband,
    node_exporter,
    nvidia_smi,
    switches,
    vllm,
)
from watchfloor_prometheus.exposition import Series
from watchfloor_prometheus.mapping import Builder, Scope, Table, route

TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        dcgm.TABLE,
        nvidia_smi.TABLE,
        node_exporter.TABLE,
        agent.TABLE,
        switches.SNMP,
        switches.GNMI,
        infiniband.TABLE,
        vllm.TABLE,
    )
}
"""Tables in the order they map (GPUs before vLLM, which looks for its node's GPUs)."""


def select(names: str) -> list[Table]:
    """``auto`` → every table; ``dcgm,node`` → those; ValueError names an unknown one."""
    if names.strip() in ("", "auto"):
        return list(TABLES.values())
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in TABLES]
    if unknown:
        raise ValueError(f"unknown exporter {unknown[0]!r} (known: auto, {', '.join(TABLES)})")
    return [table for table in TABLES.values() if table.name in wanted]


def map_series(
    series: Sequence[Series], tables: Sequence[Table], scope: Scope, out: Builder
) -> None:
    """Route each series to the table that knows its name, then let each table map."""
    for table, own in route(series, tables):
        table.map(own, scope, out)
