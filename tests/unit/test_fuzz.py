"""Parsers of what other machines send never crash or hang, whatever they are fed."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.agent.security import EventError, parse_guard_events
from console.agent.wire import WIRE_VERSION, WireError, decode
from console.api import SourceError
from console.collect.topology_file import parse_topology
from console.core.config import ConfigError, parse_config
from console.core.runtime import load_registry
from console.core.text import plain
from console.ui.themes_loader import parse_theme
from watchfloor_host.sysfs import read_number
from watchfloor_jobs.slurm import parse_squeue
from watchfloor_security.integrity import ModelTree

SOURCE_TYPES = load_registry().source_types
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
"""Anything JSON can carry (and NaN, which Python's json module also emits)."""


def _agentish(node: str) -> st.SearchStrategy[object]:
    """Documents close to what an agent sends, with any part replaced by junk."""
    ref = st.sampled_from([f"gpu/{node}/0", f"node/{node}", "gpu/other/1", "x", ""])
    return st.fixed_dictionaries(
        {
            "wire_version": st.sampled_from([WIRE_VERSION, WIRE_VERSION, 1, "2", None]),
            "node": st.sampled_from([node, "", "a/b", None, 3]),
            "time": json_values,
            "entities": st.lists(
                st.fixed_dictionaries({"ref": ref, "name": json_values, "attrs": json_values}),
                max_size=3,
            ) | json_values,
            "samples": st.dictionaries(ref, st.dictionaries(st.text(max_size=12), json_values,
                                                            max_size=3), max_size=3) | json_values,
        }
    )  # fmt: skip


@FAST
@given(st.one_of(json_values, _agentish("n1")))
def test_agent_documents_are_accepted_or_refused_with_a_reason(document: object) -> None:
    try:
        node, batch, _ = decode(document)
    except WireError as exc:
        assert str(exc)
        return
    assert all(e.ref.split("/")[1] == node for e in batch.entities)
    for sample in batch.samples:
        assert sample.value is None or sample.value == sample.value  # never NaN


@FAST
@given(json_values)
def test_squeue_output_never_crashes_the_parser(document: object) -> None:
    try:
        jobs = parse_squeue(document if not isinstance(document, dict) else {"jobs": [document]})
    except ValueError:
        return
    assert all(job.ref.startswith("job/") for job in jobs)


@FAST
@given(st.text(max_size=300))
def test_config_text_gives_a_config_or_a_file_line_error(text: str) -> None:
    try:
        parse_config(text, "c.yaml", SOURCE_TYPES)
    except ConfigError as exc:
        assert re.match(r"c\.yaml:\d+: ", str(exc))


@FAST
@given(st.text(max_size=300))
def test_topology_text_gives_entities_or_a_file_line_error(text: str) -> None:
    try:
        parse_topology(text, "t.yaml")
    except ConfigError as exc:
        assert re.match(r"t\.yaml:\d+: ", str(exc))


@FAST
@given(st.text(max_size=300))
def test_theme_files_never_raise(text: str) -> None:
    theme, errors = parse_theme(text, "x.yaml")
    assert (theme is None) == bool(errors)


@FAST
@given(st.text(max_size=2000))
def test_plain_text_carries_no_control_or_escape(text: str) -> None:
    shown = plain(text)
    assert len(shown) <= 200
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", shown)


@FAST
@given(st.binary(max_size=64))
def test_sysfs_values_are_a_number_or_not_available(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "port_xmit_wait"
        path.write_bytes(content)
        value = read_number(path)
    assert value is None or isinstance(value, float)


def test_a_real_document_round_trips() -> None:
    document = {"wire_version": WIRE_VERSION, "node": "n1", "entities": [],
                "samples": {"gpu/n1/0": {"gpu.util": 5}}}  # fmt: skip
    node, batch, _ = decode(json.loads(json.dumps(document)))
    assert node == "n1" and batch.samples[0].value == 5.0


@FAST
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {
                "kind": json_values,
                "severity": st.sampled_from(["info", "critical", "x", None]),
                "model": json_values,
                "excerpt": json_values,
                "time": json_values,
                "score": json_values,
            }
        ),
        st.fixed_dictionaries({"events": st.lists(json_values, max_size=3) | json_values}),
    )
)
def test_guard_event_bodies_are_accepted_or_refused_with_a_reason(document: object) -> None:
    try:
        events = parse_guard_events(document, now=1000.0)
    except EventError as exc:
        assert str(exc)
        return
    for event in events:
        assert event["severity"] in ("info", "warning", "critical")
        assert 1000.0 - 86_400 <= event["time"] <= 1000.0


@FAST
@given(st.binary(max_size=300))
def test_integrity_manifests_load_or_are_refused_with_the_file_named(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        manifest = Path(folder) / "manifest.json"
        manifest.write_bytes(content)
        try:
            tree = ModelTree([folder], manifest=manifest)
        except SourceError as exc:
            assert str(manifest) in str(exc)
            return
        tree.step()
    assert all(isinstance(path, str) for path in tree.records)
