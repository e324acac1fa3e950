"""The plugin API's contracts: kinds and metrics a plugin declares, clashes between
plugins, the API version refusal, and what a source may return."""

from __future__ import annotations

import math

import pytest

from console.api import (
    API_VERSION,
    METRICS,
    Batch,
    Entity,
    MetricSpec,
    Pane,
    Plugin,
    PluginError,
    Sample,
    SourceType,
    entity_kinds,
    make_ref,
    normalize_ref,
)
from console.core.batch_check import check_batch
from console.core.model import COUNTER_METRICS
from console.core.plugins import PluginRecord, Registry, api_refusal
from console.core.store import Store


def test_a_plugin_declares_its_own_entity_kinds() -> None:
    with pytest.raises(ValueError, match="declares its own kinds"):
        make_ref("chiller", "c1")
    Plugin("chillers", "1.0", entity_kinds=("chiller",))
    assert make_ref("chiller", "c1") == "chiller/c1"
    assert "chiller" in entity_kinds()
    assert normalize_ref("chiller/c1", "job") == "chiller/c1"
    assert normalize_ref("c1", "chiller") == "chiller/c1"
    Plugin("chillers", "1.1", entity_kinds=("chiller",))  # the same plugin again: fine


@pytest.mark.parametrize(
    ("kinds", "message"),
    [
        (("gpu",), "entity kind 'gpu' is one of the console's own: declare only new kinds"),
        (("Bad Kind",), "entity kind 'Bad Kind' must be lowercase letters, digits and '-'"),
        (("chiller",), "entity kind 'chiller' is already declared by plugin 'chillers'"),
    ],
)
def test_a_bad_kind_is_refused_when_the_plugin_is_made(kinds: tuple[str], message: str) -> None:
    Plugin("chillers", "1.0", entity_kinds=("chiller",))
    with pytest.raises(PluginError) as caught:
        Plugin("other", "1.0", entity_kinds=kinds)
    assert str(caught.value).startswith("plugin 'other': " + message)


def test_a_plugin_declares_metrics_with_units_and_counters() -> None:
    Plugin(
        "meters",
        "1.0",
        entity_kinds=("meter",),
        metrics=(
            MetricSpec("meter.power", "W", "power now"),
            MetricSpec("meter.energy", "J", "energy since install", counter=True),
        ),
    )
    assert METRICS["meter.power"].unit == "W"
    assert "meter.energy" in COUNTER_METRICS
    store = Store()
    ref = make_ref("meter", "m1")
    for time, joules in ((0.0, 1000.0), (10.0, 3000.0)):
        store.apply(Batch([Entity(ref, "m1")], [Sample(ref, "meter.energy", joules)], time), "s", 0)
    assert store.value(ref, "meter.energy") == 200.0  # a counter: stored raw, read as a rate
    with pytest.raises(PluginError, match="already declared with unit 'W'"):
        Plugin("meters2", "1.0", metrics=(MetricSpec("meter.power", "kW", "power"),))
    with pytest.raises(PluginError, match=r"must be named <kind>\.<quantity>"):
        Plugin("meters3", "1.0", metrics=(MetricSpec("Power", "W", "power"),))


def test_a_plugin_is_refused_for_another_api_version_with_what_to_do() -> None:
    newer = api_refusal(API_VERSION + 1)
    assert f"needs plugin API {API_VERSION + 1}" in newer and "upgrade watchfloor" in newer
    older = api_refusal(API_VERSION - 1)
    assert "upgrade watchfloor" not in older
    assert older.endswith(f"install a release of the plugin made for API {API_VERSION}")
    with pytest.raises(PluginError, match="api_version must be an integer"):
        Plugin("strings", "1.0", api_version="1")


def _record(plugin: Plugin) -> PluginRecord:
    return PluginRecord(plugin.name, plugin.version, "loaded", plugin=plugin)


def test_clashes_between_plugins_are_settled_first_come_and_noted() -> None:
    def create(context: object, ref: str | None) -> None:
        return None

    first = Plugin("first", "1", panes=(Pane("racks", "Racks", create, opens=("rack",), key="r"),),
                   source_types=(SourceType("redfish", lambda c: []),))  # fmt: skip
    second = Plugin(
        "second",
        "1",
        source_types=(SourceType("redfish", lambda c: []),),
        panes=(
            Pane("racks", "Racks again", create),
            Pane("rooms", "Rooms", create, opens=("rack",), key="r"),
            Pane("quitter", "Quitter", create, key="q"),
            Pane("asker", "Asker", create, key="?"),
        ),
    )
    records = [_record(first), _record(second)]
    registry = Registry.build([first, second], records)
    assert records[0].notes == []
    assert records[1].notes == [
        "source type 'redfish' is also provided by 'first': this one is ignored",
        "pane id 'racks' is also used by 'first': this pane is ignored",
        "pane 'rooms': rack refs already open in pane 'racks'",
        "pane 'rooms': key 'r' is taken (pane 'racks'): it has no key",
        "pane 'quitter': key 'q' is taken (quit): it has no key",
        "pane 'asker': key '?' is taken (help): it has no key",
    ]
    assert [(p.id, p.key) for p in registry.panes] == [
        ("racks", "r"), ("rooms", None), ("quitter", None), ("asker", None)
    ]  # fmt: skip
    assert registry.plugin_of("rooms") == "second"
    assert registry.source_type_plugin["redfish"] == "first"
    assert getattr(registry.pane_for("rack"), "id", None) == "racks"


# -- what a source may return -------------------------------------------------


def test_a_well_formed_batch_passes_and_numbers_become_floats() -> None:
    batch = Batch(
        [Entity("node/n1", "n1", attrs={"rack": "r1"})],
        [Sample("node/n1", "node.load1", 3), Sample("node/n1", "node.cpu_util", None),
         Sample("node/n1", "node.temp_max", math.nan)],
    )  # fmt: skip
    assert check_batch(batch) is batch
    assert [type(s.value) for s in batch.samples] == [float, type(None), type(None)]


@pytest.mark.parametrize(
    ("batch", "reason"),
    [
        ({"entities": []}, "poll returned dict, not a console.api.Batch"),
        (None, "poll returned NoneType, not a console.api.Batch"),
        (Batch(entities=({},)), "Batch.entities, Batch.samples and Batch.columns must be lists"),
        (Batch([{"ref": "node/a"}]), "entities[0]: dict, not an Entity"),
        (Batch([Entity("nodeA", "a")]), "entities[0] (nodeA): ref 'nodeA' is not <kind>/<id>"),
        (Batch([Entity("node/a", 7)]), "entities[0] (node/a): name must be a string, not int"),
        (Batch([Entity("node/a", "a", attrs=[])]),
         "entities[0] (node/a): attrs must be a dict, not list"),
        (Batch(samples=[("node/a", "x", 1)]), "samples[0]: tuple, not a Sample"),
        (Batch(samples=[Sample("node/a", "node.load1", "12 W")]),
         "samples[0] (node/a node.load1): value '12 W' is not a number (or None)"),
        (Batch(samples=[Sample("node/a", "node.load1", True)]),
         "samples[0] (node/a node.load1): value True is not a number (or None)"),
        (Batch(samples=[Sample(None, "node.load1", 1.0)]),
         "samples[0]: ref must be a string, not NoneType"),
        (Batch(time="now"), "Batch.time must be seconds since the epoch, not 'now'"),
    ],
)  # fmt: skip
def test_a_malformed_batch_is_refused_with_what_and_where(batch: object, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_batch(batch)
    assert str(caught.value) == reason


def test_a_pane_is_slow_after_three_refreshes_over_budget_and_fine_after_ten_within() -> None:
    from console.ui.guard import RECOVER_STREAK, SLOW_SHARE, PaneHealth

    health = PaneHealth("racks", "racks-plugin")
    assert not health.record(0.0, 0.5, counted=False)  # a first draw never decides
    assert [health.record(t, 0.08) for t in (1.0, 2.0, 3.0)] == [False, False, True]
    assert health.slow and health.summary().endswith("budget: refreshed less often")
    wait = 0.08 / SLOW_SHARE
    assert not health.may_refresh(3.0 + wait - 0.01) and health.skipped == 1
    assert health.may_refresh(3.0 + wait)
    for step in range(RECOVER_STREAK):
        health.record(10.0 + step, 0.01)
    assert not health.slow and health.may_refresh(0.0)
    assert health.summary() == "refresh 10 ms (worst 500 ms)"
