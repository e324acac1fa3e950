"""The dcgm table's column-at-a-time mapping (the ``prometheus`` source's values, one
name at a time) gives what its series-at-a-time mapping gives, leaves every fleet it
does not read to it, and the batch builder keeps a column's readings as ``put`` would."""

from __future__ import annotations

import json
from itertools import chain
from typing import Any

import pytest

from console.api import Batch
from tests.conftest import FIXTURES
from watchfloor_prometheus import query_source
from watchfloor_prometheus.dcgm import FP64_BLANK, INT32_BLANK, KINDS, DcgmTable
from watchfloor_prometheus.exposition import parse
from watchfloor_prometheus.mapping import Builder, NameValues, Scope
from watchfloor_prometheus.query_source import Join, decode_label_sets

Fleet = list[tuple[str, dict[str, str], float]]


def gpu_labels(host: int, gpu: int, **more: str) -> dict[str, str]:
    return {"Hostname": f"n{host}", "gpu": str(gpu), "UUID": f"GPU-{host}-{gpu}",
            "instance": f"n{host}.example:9400", "modelName": "NVIDIA H100", **more}  # fmt: skip


def columns_of(series: Fleet) -> list[NameValues]:
    """Series as the query source gives them: a column per name, one object per label set."""
    shared: dict[str, dict[str, str]] = {}
    columns: dict[str, NameValues] = {}
    for name, labels, value in series:
        labels = shared.setdefault(json.dumps(labels, sort_keys=True), labels)
        column = columns.setdefault(name, NameValues(name, [], []))
        column.labels.append(labels)
        column.values.append(value)
    return list(columns.values())


def content(batch: Batch) -> tuple[list[Any], dict[tuple[str, str], str]]:
    entities = [(e.ref, e.name, e.parent, e.attrs) for e in batch.entities]
    readings = [(s.ref, s.metric, repr(s.value)) for s in batch.as_samples()]
    by_key = {(ref, metric): value for ref, metric, value in readings}
    assert len(by_key) == len(readings)  # one reading per (ref, metric)
    return entities, by_key


def both_ways(columns: list[NameValues], scope: Scope | None = None) -> tuple[Any, Any, bool]:
    """(by columns, by series, whether the columns were read): each with its own memory."""
    by_columns, by_series = Builder(), Builder()
    table = DcgmTable()
    read = table.map_columns(columns, scope or Scope(time=5.0), by_columns)
    table.map(chain.from_iterable(columns), Scope(time=5.0), by_series)
    return content(by_columns.batch(5.0)), content(by_series.batch(5.0)), read


HOSTILE = "[bold red]x[/]\x1b[31m\u202e" + "y" * 10_000


def every_field(host: int, gpu: int, **values: float) -> Fleet:
    base = {name: 7.0 for name in KINDS}
    base.update(values)
    return [(name, gpu_labels(host, gpu), value) for name, value in base.items()]


CASES: dict[str, Fleet] = {
    "plain": [s for h in range(2) for g in range(4) for s in every_field(h, g)],
    "blanks, NaN and infinities": [
        *every_field(
            0,
            0,
            DCGM_FI_DEV_GPU_TEMP=INT32_BLANK,
            DCGM_FI_DEV_POWER_USAGE=FP64_BLANK,
            DCGM_FI_DEV_SM_CLOCK=float("nan"),
            DCGM_FI_DEV_XID_ERRORS=float("inf"),
            DCGM_FI_DEV_FB_FREE=-float("inf"),
        ),
        *every_field(0, 1, DCGM_FI_DEV_GPU_UTIL=2147483647.0, DCGM_FI_DEV_FB_USED=9.3e18),
    ],
    "xid, throttle, pstate, remap failure, nvlink": [
        *every_field(
            0,
            0,
            DCGM_FI_DEV_XID_ERRORS=79.0,
            DCGM_FI_DEV_CLOCKS_EVENT_REASONS=8.0,
            DCGM_FI_DEV_PSTATE=2.0,
            DCGM_FI_DEV_ROW_REMAP_FAILURE=1.0,
        ),
        *every_field(0, 1, DCGM_FI_DEV_XID_ERRORS=0.0, DCGM_FI_DEV_CLOCKS_EVENT_REASONS=0.0),
    ],
    "some fields for some GPUs, in another order per name": [
        ("DCGM_FI_DEV_POWER_MGMT_LIMIT", gpu_labels(0, 1), FP64_BLANK),
        ("DCGM_FI_DEV_GPU_TEMP", gpu_labels(0, 0), 40.0),
        ("DCGM_FI_DEV_GPU_TEMP", gpu_labels(0, 1), 41.0),
        ("DCGM_FI_DEV_ENFORCED_POWER_LIMIT", gpu_labels(0, 1), 700.0),
        ("DCGM_FI_DEV_ENFORCED_POWER_LIMIT", gpu_labels(0, 0), 650.0),
        ("DCGM_FI_DEV_POWER_MGMT_LIMIT", gpu_labels(0, 0), 600.0),
        ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", gpu_labels(0, 1), 0.5),
        ("DCGM_FI_DEV_FB_USED", gpu_labels(0, 0), 10.0),
        ("DCGM_FI_DEV_FB_FREE", gpu_labels(0, 0), 20.0),
        ("DCGM_FI_DEV_FB_TOTAL", gpu_labels(0, 1), 80.0),
        ("DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", gpu_labels(0, 1), 3.0),
        ("DCGM_FI_DEV_NOT_IN_THE_TABLE", gpu_labels(1, 0), 1.0),  # names a GPU all the same
        ("DCGM_FI_DEV_GPU_TEMP", gpu_labels(2, 0), 42.0),  # a GPU first met in a later name
    ],
    "hostile label values stay plain text": [
        *every_field(0, 0),
        (
            "DCGM_FI_DEV_GPU_TEMP",
            gpu_labels(1, 0, Hostname=HOSTILE, modelName=HOSTILE, DCGM_FI_DEV_SERIAL=HOSTILE),
            50.0,
        ),
        ("DCGM_FI_DEV_GPU_TEMP", {"instance": "10.0.0.9:9400", "UUID": HOSTILE}, 51.0),
    ],
    "real dcgm-exporters (their GPUs without pods)": [
        (name, {k: v for k, v in labels.items() if k in DcgmTable.keep and v}, value)
        for name, labels, value in parse(
            (FIXTURES / "dcgm-exporter/t4-a10g-metrics.txt").read_text()
        )
        if labels.get("Hostname") and not labels.get("pod")
    ],
}


@pytest.mark.parametrize("case", CASES)
def test_columns_map_as_the_series_do(case: str) -> None:
    by_columns, by_series, read = both_ways(columns_of(CASES[case]))
    assert read, "the usual fleet is read a column at a time"
    assert by_columns == by_series
    assert by_columns[0], "something was mapped"


def test_a_later_refresh_reuses_what_the_label_sets_said_and_keeps_the_xid_time() -> None:
    scope = Scope(time=5.0)
    fleet = every_field(0, 0, DCGM_FI_DEV_XID_ERRORS=43.0)
    columns = columns_of(fleet)
    DcgmTable().map_columns(columns, scope, Builder())
    scope.time = 9.0
    again, out = (
        [NameValues(c.name, c.labels, [v + 1 for v in c.values]) for c in columns],
        Builder(),
    )
    assert DcgmTable().map_columns(again, scope, out)
    by_series = Builder()
    series_scope = Scope(time=5.0)
    DcgmTable().map(chain.from_iterable(columns), series_scope, Builder())
    series_scope.time = 9.0
    DcgmTable().map(chain.from_iterable(again), series_scope, by_series)
    assert content(out.batch(9.0)) == content(by_series.batch(9.0))
    (gpu,) = [e for e in out.batch(9.0).entities if e.kind == "gpu"]
    assert gpu.attrs["last_xid"]["code"] == 44 and gpu.attrs["last_xid"]["time"] == 9.0


@pytest.mark.parametrize(
    "fleet",
    [
        [("DCGM_FI_DEV_GPU_TEMP", gpu_labels(0, 0, GPU_I_ID="1"), 40.0)],  # MIG
        [("DCGM_FI_DEV_GPU_TEMP", gpu_labels(0, 0, pod="p", namespace="ns"), 40.0)],
        [("DCGM_FI_DEV_GPU_TEMP", gpu_labels(0, 0), 40.0)] * 2,  # one GPU twice in a name
        [
            ("DCGM_FI_DEV_GPU_TEMP", gpu_labels(0, 0), 40.0),
            ("DCGM_FI_DEV_GPU_TEMP", gpu_labels(0, 0, job="other"), 41.0),
        ],  # two sets, one GPU
        [("DCGM_FI_DEV_GPU_TEMP", {"job": "dcgm"}, 40.0)],  # names no GPU
    ],
    ids=["mig", "pod", "twice", "two label sets", "no gpu"],
)
def test_other_fleets_are_left_to_the_series_mapping(fleet: Fleet) -> None:
    out = Builder()
    assert not DcgmTable().map_columns(columns_of(fleet), Scope(time=5.0), out)
    batch = out.batch(5.0)
    assert batch.entities == [] and batch.reading_count() == 0


def test_a_column_keeps_put_s_rule_first_value_stays() -> None:
    out = Builder()
    out.column("gpu.temp", ["gpu/a/0", "gpu/a/1"], [40.0, None])
    out.put("gpu/a/0", "gpu.temp", 99.0)  # a later table: the first value stays
    out.put("gpu/a/1", "gpu.temp", 41.0)  # but fills one that was not available
    out.put("gpu/a/0", "gpu.power", 300.0)
    out.column("gpu.power", ["gpu/a/0", "gpu/a/1"], [1.0, 2.0])  # after a put: the same rule
    out.column("gpu.fan", ["gpu/a/0"], [10.0])
    out.add("gpu/a/0", "gpu.fan", 5.0)
    out.column("gpu.sm_clock", ["gpu/a/0"], [1500.0])
    out.values[("gpu/a/0", "gpu.sm_clock")] = 1.0  # a table that writes values itself
    out.column("gpu.mem_clock", ["gpu/a/0"], [2600.0])  # kept as the column it is
    batch = out.batch(0.0)
    assert content(batch)[1] == {
        ("gpu/a/0", "gpu.temp"): "40.0",
        ("gpu/a/1", "gpu.temp"): "41.0",
        ("gpu/a/0", "gpu.power"): "300.0",
        ("gpu/a/1", "gpu.power"): "2.0",
        ("gpu/a/0", "gpu.fan"): "15.0",
        ("gpu/a/0", "gpu.sm_clock"): "1500.0",
        ("gpu/a/0", "gpu.mem_clock"): "2600.0",
    }
    assert [c.metric for c in batch.columns].count("gpu.mem_clock") == 1


KEY = ("Hostname", "gpu")


def answer(*series: tuple[dict[str, str], object]) -> bytes:
    result = [{"metric": metric, "value": [1.7e9, value]} for metric, value in series]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}},
                      separators=(",", ":")).encode()  # fmt: skip


IDENTITY = answer(({"Hostname": "n1", "gpu": "0", "modelName": "H100"}, "1"),
                  ({"Hostname": "n1", "gpu": "1", "modelName": "H100"}, "1"))  # fmt: skip


def test_label_sets_are_decoded_once_per_identity_read(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[bytes] = []
    labels = query_source._LABELS

    class Counting:
        def decode(self, text: bytes) -> Any:
            decoded.append(text)
            return labels.decode(text)

    monkeypatch.setattr(query_source, "_LABELS", Counting())
    join = Join(KEY, decode_label_sets(IDENTITY, "q", KEY))
    body = answer(({"Hostname": "n1", "gpu": "0"}, "42"), ({"Hostname": "n1", "gpu": "1"}, "7"))
    for value in range(3):  # three refreshes
        join.begin()
        column = join.decode_name(body.replace(b'"42"', f'"{value}"'.encode()), "q", "X")
        assert isinstance(column, NameValues) and column.values == [float(value), 7.0]
        assert [labels["modelName"] for labels in column.labels] == ["H100", "H100"]
    assert len(decoded) == 2  # each label set's text, once
    # a label set the identity read does not know is said again every refresh
    new = answer(({"Hostname": "n2", "gpu": "0"}, "1"))
    for _ in range(2):
        join.begin()
        assert not join.unknown
        join.decode_name(new, "q", "X")
        assert join.unknown


@pytest.mark.parametrize(
    ("written", "read"),
    [("17", 17.0), ("-2.5e3", -2500.0), ("NaN", "nan"), ("+Inf", float("inf")),
     ("-Inf", -float("inf")), ("1e400", float("inf")), (" 5", 5.0), ("1_000", 1000.0),
     (12, 12.0), ("0x10", None), ("ten", None), (True, None), (None, None),
     ("9" * 5000, float("9" * 5000))],
)  # fmt: skip
def test_values_are_read_as_float_reads_the_string(written: object, read: object) -> None:
    # The values are read while decoding; whatever that reading does not take ("+Inf",
    # a hostile "1_000" or a 5,000-digit number) is read the careful way, as before.
    join = Join(KEY, decode_label_sets(IDENTITY, "q", KEY))
    body = answer(({"Hostname": "n1", "gpu": "0"}, "1"), ({"Hostname": "n1", "gpu": "1"}, written))
    values = [value for _, _, value in join.decode_name(body, "q", "X")]
    if read is None:
        assert values == [1.0]  # the malformed series is left out, not the answer
    elif read == "nan":
        assert values[0] == 1.0 and values[1] != values[1]
    else:
        assert values == [1.0, read]


def test_refreshes_whose_gpus_change_map_as_the_series_do() -> None:
    a, b, c = gpu_labels(0, 0), gpu_labels(0, 1), gpu_labels(1, 0)
    refreshes = [[a, b], [a, b], [a, b, c], [c, a], [b], [a, b]]
    scope = Scope(time=5.0)
    for number, gpus in enumerate(refreshes):
        columns = [NameValues(name, gpus, [float(number + i) for i in range(len(gpus))])
                   for name in ("DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_FB_USED")]  # fmt: skip
        columns.append(NameValues("DCGM_FI_DEV_FB_FREE", gpus[::-1], [1.0] * len(gpus)))
        by_columns, by_series = Builder(), Builder()
        assert DcgmTable().map_columns(columns, scope, by_columns)
        DcgmTable().map(chain.from_iterable(columns), Scope(time=5.0), by_series)
        assert content(by_columns.batch(5.0)) == content(by_series.batch(5.0)), number


def test_an_answer_in_the_last_answer_s_order_or_another_is_joined_alike() -> None:
    join = Join(KEY, decode_label_sets(IDENTITY, "q", KEY))
    n0, n1 = {"Hostname": "n1", "gpu": "0"}, {"Hostname": "n1", "gpu": "1"}
    for order in ([n0, n1], [n0, n1], [n1, n0], [n1, n0], [n1], [n0, n1]):
        join.begin()
        body = answer(*((labels, labels["gpu"]) for labels in order))
        column = join.decode_name(body, "q", "X")
        assert isinstance(column, NameValues)
        assert [labels["gpu"] for labels in column.labels] == [v["gpu"] for v in order]
        assert column.values == [float(labels["gpu"]) for labels in order]
        assert all(labels["modelName"] == "H100" for labels in column.labels)
