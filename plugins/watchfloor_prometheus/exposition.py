"""Reading the Prometheus text exposition format, fast, with the reference parser behind it.

``prometheus_client.parser`` is the reference implementation, but it spends about
60 µs on a dcgm-exporter line (eight labels, parsed character by character): a
1,000-GPU exposition took 1.5 s where the budget is 100 ms (``bench/exposition.py``).
This reader takes the common shape of a sample line with string methods and caches
each distinct label set (a GPU's labels repeat on every one of its families), and
hands any line it does not recognise to the reference parser, one line at a time.
So it accepts at least what ``prometheus_client`` accepts, and the unit tests
(fuzzed) hold the two to the same samples.

Comments are skipped (``# HELP`` without samples, ``# NOTE``, ``# TYPE``): the
mapping tables know their metrics' types. Samples keep the name written on the
line (``vllm:ttft_seconds_sum``), label values are unescaped, ``+Inf``/``NaN``
parse as floats, and a missing final newline is fine.
"""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

Series = tuple[str, dict[str, str], float]
"""One sample: metric name as written, its labels (shared, do not modify), its value."""

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\\n]|\\.)*)"[ \t]*(,|\Z)')
_ESCAPE = re.compile(r'\\[\\n"]')
_UNESCAPED = {"\\\\": "\\", "\\n": "\n", '\\"': '"'}


class ExpositionError(ValueError):
    """A line that is not the text format; the message names the line."""


def _unescape(value: str) -> str:
    return _ESCAPE.sub(lambda match: _UNESCAPED[match.group(0)], value) if "\\" in value else value


def _labels(text: str) -> dict[str, str] | None:
    """The labels between the braces, or None when the fast path cannot read them."""
    labels: dict[str, str] = {}
    position, end = 0, len(text)
    while position < end:
        match = _LABEL.match(text, position)
        if match is None:
            return None
        name = match.group(1)
        if name in labels or name.startswith("__"):  # reserved: the reference parser decides
            return None
        labels[name] = _unescape(match.group(2))
        position = match.end()
    return labels


def _number(token: str) -> float | None:
    if "_" in token:
        return None
    try:
        return float(token)
    except ValueError:
        return None


def _reference(line: str, number: int) -> Series:
    """The reference parser's reading of one line (it raises on what it refuses)."""
    try:
        families = list(text_string_to_metric_families(line + "\n"))
    except Exception as exc:  # the reference parser raises assorted types on bad input
        raise ExpositionError(f"line {number}: {exc or type(exc).__name__}"[:300]) from None
    samples = [sample for family in families for sample in family.samples]
    if len(samples) != 1:
        raise ExpositionError(f"line {number}: not a sample")
    sample = samples[0]
    return sample.name, dict(sample.labels), float(sample.value)


def parse(text: str) -> list[Series]:
    """Every sample of an exposition, or :class:`ExpositionError` naming the bad line."""
    series: list[Series] = []
    append = series.append
    label_sets: dict[str, dict[str, str]] = {}
    names: set[str] = set()
    for number, line in enumerate(text.split("\n"), 1):
        if not line or line[0] == "#":
            continue
        if line[0] in " \t" or line[-1] in " \t\r":
            line = line.strip()
            if not line or line[0] == "#":
                continue
        # The hot path, inlined: name{labels} value, labels seen before, a plain number.
        brace = line.find("{")
        if brace > 0:
            close = line.rfind("}")
            labels = label_sets.get(line[brace + 1 : close]) if close > brace else None
            if labels is not None and "_" not in line[close:]:
                name = line[:brace]
                try:
                    reading = (name, labels, float(line[close + 1 :]))
                except ValueError:
                    reading = None
                if reading is not None and name in names:
                    append(reading)
                    continue
        reading = _fast(line, label_sets)
        if reading is None:
            append(_reference(line, number))
            continue
        if reading[0] not in names:
            if not _NAME.match(reading[0]):
                append(_reference(line, number))
                continue
            names.add(reading[0])
        append(reading)
    return series


def _fast(line: str, label_sets: dict[str, dict[str, str]]) -> Series | None:
    """One sample line of the common shape, or None for the reference parser to judge."""
    brace = line.find("{")
    if brace > 0:
        close = line.rfind("}")
        if close < brace:
            return None
        label_text = line[brace + 1 : close]
        labels = label_sets.get(label_text)
        if labels is None:
            parsed = _labels(label_text)
            if parsed is None:
                return None
            labels = label_sets[label_text] = parsed
        name = line[:brace].rstrip()
        tail = line[close + 1 :]
    elif brace < 0:
        name, _, tail = line.replace("\t", " ").partition(" ")
        labels = {}
    else:
        return None  # a quoted name inside the braces: the reference parser's job
    if "_" in tail:
        return None
    try:
        return name, labels, float(tail)
    except ValueError:
        pass
    tokens = tail.split()  # a value and a timestamp (ignored: the poll time is used)
    if len(tokens) != 2 or _number(tokens[1]) is None:
        return None
    value = _number(tokens[0])
    return None if value is None else (name, labels, value)


__all__ = ["ExpositionError", "Series", "parse"]
