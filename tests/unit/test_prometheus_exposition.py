"""The exposition reader: what real exporters emit, and the same samples as the
reference parser (``prometheus_client``) on anything that parser accepts."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FIXTURES
from watchfloor_prometheus.exposition import ExpositionError, parse

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference(text: str) -> list[tuple[str, dict[str, str], float]]:
    """The reference parser's samples, one line at a time (no counter renaming)."""
    samples = []
    for line in text.split("\n"):
        if line.strip() and not line.lstrip().startswith("#"):
            for family in text_string_to_metric_families(line + "\n"):
                samples += [(s.name, dict(s.labels), float(s.value)) for s in family.samples]
    return samples


def same(
    a: list[tuple[str, dict[str, str], float]], b: list[tuple[str, dict[str, str], float]]
) -> bool:
    return len(a) == len(b) and all(
        x[:2] == y[:2] and (x[2] == y[2] or (math.isnan(x[2]) and math.isnan(y[2])))
        for x, y in zip(a, b, strict=True)
    )


def test_untyped_families_help_without_samples_and_no_final_newline() -> None:
    text = (
        "# HELP go_gc_duration_seconds A summary of the GC invocation durations.\n"
        "# TYPE go_gc_duration_seconds summary\n"
        "# HELP DCGM_FI_DEV_FB_RESERVED\n"
        "# NOTE not a HELP or TYPE line\n"
        "some_untyped_metric 3\n"
        'vllm:num_requests_running{model_name="m"} 1.0'
    )
    assert parse(text) == [("some_untyped_metric", {}, 3.0),
                           ("vllm:num_requests_running", {"model_name": "m"}, 1.0)]  # fmt: skip


def test_escaped_label_values_and_special_floats() -> None:
    text = (
        'a{path="C:\\\\dir",quote="say \\"hi\\"",nl="x\\ny",odd="\\t"} +Inf\n'
        'b{le="+Inf"} -Inf\n'
        "c NaN\n"
        'd{x="1",} 1e-05 1700000000000\n'
        'e{ gpu="0", UUID="GPU-1" } 8.969000\n'
        "f\t2\n"
    )
    got = parse(text)
    assert got[0] == ("a", {"path": "C:\\dir", "quote": 'say "hi"', "nl": "x\ny", "odd": "\\t"},
                      math.inf)  # fmt: skip
    assert got[1] == ("b", {"le": "+Inf"}, -math.inf)
    assert got[2][0] == "c" and math.isnan(got[2][2])
    assert got[3] == ("d", {"x": "1"}, 1e-05)
    assert got[4] == ("e", {"gpu": "0", "UUID": "GPU-1"}, 8.969)
    assert got[5] == ("f", {}, 2.0)
    assert same(got, reference(text))


@pytest.mark.parametrize(
    "line", ['metric{a="1" 2', "1metric 2", "metric{a=1} 2", "metric 1_000", "metric"]
)
def test_a_bad_line_is_an_error_that_names_it(line: str) -> None:
    with pytest.raises(ExpositionError, match=r"^line 2: "):
        parse(f"ok 1\n{line}\n")


@pytest.mark.parametrize("path", [
    "dcgm-exporter/t4-a10g-metrics.txt", "dcgm-exporter/h100-8gpu-sampled.txt",
    "dcgm-exporter/h100-mig-issue512-excerpt.txt", "vllm/vllm_metrics.txt",
    "node_exporter/e2e-output-infiniband-netdev-hwmon-rapl.txt",
    "node_exporter/node-exporter-1.5.0-debian-full.txt",
])  # fmt: skip
def test_real_exporter_outputs_read_as_the_reference_parser_reads_them(path: str) -> None:
    text = (FIXTURES / path).read_text()
    got = parse(text)
    assert got and same(got, reference(text))


names = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True)
label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: not n.startswith("__")
)
label_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
                       max_size=12)  # fmt: skip
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["+Inf", "-Inf", "NaN", "1e-05", "8.969000", "9223372036854775794"]),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@st.composite
def sample_lines(draw: st.DrawFn) -> str:
    labels = draw(st.dictionaries(label_names, label_values, max_size=4))
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    spacing = draw(st.sampled_from([" ", "  ", "\t"]))
    block = f"{{{body}}}" if labels or draw(st.booleans()) else ""
    value = draw(values).replace("inf", "Inf").replace("nan", "NaN")
    return f"{draw(names)}{block}{spacing}{value}"


@FAST
@given(st.lists(sample_lines(), max_size=8), st.booleans())
def test_generated_expositions_read_as_the_reference_parser_reads_them(
    lines: list[str], final_newline: bool
) -> None:
    text = "\n".join(lines) + ("\n" if final_newline else "")
    assert same(parse(text), reference(text))


@FAST
@given(st.text(max_size=300) | st.lists(sample_lines(), max_size=4).map("\n".join).map(
    lambda t: t[: len(t) // 2] + "{\"\\" + t[len(t) // 2 :]))  # fmt: skip
def test_any_text_is_read_or_refused_with_a_line(text: str) -> None:
    try:
        parse(text)
    except ExpositionError as exc:
        assert str(exc).startswith("line ")
