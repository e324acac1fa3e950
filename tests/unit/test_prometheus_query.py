"""Reading the answers of the ``prometheus`` source's queries: the fast paths give
way to the careful one on anything unusual, and the queries say what they should."""

from __future__ import annotations

import json

import pytest

from console.api import SourceError
from console.core.config import ConfigError, parse_config
from console.core.runtime import build_sources, load_registry
from watchfloor_prometheus.dcgm import DcgmTable
from watchfloor_prometheus.query_source import (
    Join,
    PrometheusSource,
    TableQueries,
    decode_label_sets,
    decode_names,
    value_labels,
)

KEY = ("Hostname", "gpu")


def answer(*series: tuple[dict[str, object], object]) -> bytes:
    result = [{"metric": metric, "value": [1.7e9, value]} for metric, value in series]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}},
                      separators=(",", ":")).encode()  # fmt: skip


IDENTITY = answer(
    ({"Hostname": "n1", "gpu": "0", "modelName": "H100", "pod": "a"}, "1"),
    ({"Hostname": "n1", "gpu": "0", "modelName": "H100", "pod": "b"}, "1"),
    ({"Hostname": "n1", "gpu": "1", "modelName": "H100"}, "1"),
)


def test_a_names_answer_keeps_metric_names_only() -> None:
    body = answer(({"__name__": "DCGM_FI_DEV_GPU_UTIL"}, "3"), ({"__name__": 'x"} or up{'}, "1"),
                  ({}, "1"), ({"__name__": "DCGM_FI_DEV_FB_USED"}, "3"))  # fmt: skip
    assert decode_names(body, "q") == ("DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_UTIL")


def test_values_get_every_label_set_of_their_key_and_unknown_ones_their_own() -> None:
    join = Join(KEY, decode_label_sets(IDENTITY, "q", KEY))
    body = answer(({"Hostname": "n1", "gpu": "0"}, "42"), ({"Hostname": "n1", "gpu": "1"}, "7"),
                  ({"Hostname": "n2", "gpu": "0"}, "NaN"))  # fmt: skip
    series = list(join.decode_name(body, "q", "DCGM_FI_DEV_GPU_UTIL"))
    assert [(labels.get("pod"), value) for _, labels, value in series[:3]] == [
        ("a", 42.0),
        ("b", 42.0),
        (None, 7.0),
    ]  # one GPU with two pods is a series for each, as Prometheus kept them
    assert series[3][1] == {"Hostname": "n2", "gpu": "0"} and series[3][2] != series[3][2]
    assert join.unknown  # n2 was not in the identity read: read it again
    assert all(name == "DCGM_FI_DEV_GPU_UTIL" for name, _, _ in series)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (({"Hostname": "n1", "gpu": "1"}, "not a number"), "a value that is not a number"),
        (({"Hostname": "n1", "gpu": 1}, "7"), "a label value that is not a string"),
        (({"Hostname": "n1", "gpu": "1"}, None), "no value"),
    ],
)
def test_one_malformed_series_is_left_out_not_the_answer(
    bad: tuple[dict[str, object], object], why: str
) -> None:
    join = Join(KEY, decode_label_sets(IDENTITY, "q", KEY))
    body = answer(({"Hostname": "n1", "gpu": "0"}, "42"), bad)
    series = list(join.decode_name(body, "q", "DCGM_FI_DEV_GPU_UTIL"))
    assert [value for _, _, value in series] == [42.0, 42.0], why


def test_an_error_answer_is_the_reason() -> None:
    body = b'{"status":"error","errorType":"bad_data","error":"parse error"}'
    with pytest.raises(SourceError, match=r"^dcgm query: bad_data: parse error$"):
        Join(KEY, {}).decode_name(body, "dcgm query", "DCGM_FI_DEV_GPU_UTIL")
    with pytest.raises(SourceError, match=r"^q: not a Prometheus API answer: '<html>"):
        Join(KEY, {}).decode(b"<html>gateway timeout</html>", "q")


def test_the_queries_of_a_table_read_in_two_parts() -> None:
    table = DcgmTable()
    key = value_labels(table, ("node",))
    assert "modelName" not in key and "UUID" in key and key[-1] == "node"
    queries = TableQueries(table, 'cluster="a"', ("node",), key)
    label_sets, names = queries.identity()
    assert label_sets.startswith(f"count by ({', '.join(key)}, pci_bus_id, modelName,")
    assert names.startswith("count by (__name__) ({__name__=~")
    assert names.endswith(', cluster="a"})')
    queries.names = ("DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_UTIL")
    values = queries.values()
    assert values[0] == ("DCGM_FI_DEV_FB_USED", f"max by ({', '.join(key)}) "
                         '({__name__="DCGM_FI_DEV_FB_USED", cluster="a"})')  # fmt: skip
    other, catch_all = values[-1]
    assert other is None and catch_all.startswith(f"max by (__name__, {', '.join(key)}) (")
    assert '__name__!~"DCGM_FI_DEV_FB_USED|DCGM_FI_DEV_GPU_UTIL", cluster="a"})' in catch_all


def test_identity_interval_from_the_config_reaches_the_source() -> None:
    registry = load_registry()
    text = ("sources:\n  - type: prometheus\n    url: http://prom:9090\n    exporters: dcgm,node\n"
            "    identity_interval: 5\n")  # fmt: skip
    config = parse_config(text, "/etc/wf.yaml", registry.source_types)
    (source,) = build_sources(config, registry, None, local=False)
    assert isinstance(source, PrometheusSource) and source.identity_interval == 5.0
    assert [q.split for q in source.queries] == [True, False]  # dcgm in two parts, node in one
    with pytest.raises(ConfigError, match=r"/etc/wf.yaml:5"):
        parse_config(text.replace(": 5", ": soon"), "/etc/wf.yaml", registry.source_types)
