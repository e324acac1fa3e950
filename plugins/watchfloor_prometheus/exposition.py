"""Reading the Prometheus text exposition format, fast, with the reference parser behind it.

``prometheus_client.parser`` is the reference implementation, but it spends about
60 µs on a dcgm-exporter line (eight labels, parsed character by character): a
1,000-GPU exposition took 1.5 s where the budget is 100 ms (``bench/exposition.py``).
This reader takes the common shape of a sample line with two ``str.partition``
calls, caches each distinct label set (a GPU's labels repeat on every one of its
families), and hands any line it does not recognise to the reference parser, one
line at a time. (A whole-text regular expression was tried: ``re`` scans each
character slower than ``str.split`` and the partitions do, and it was no faster.)
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
_LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_LABEL_VALUE = r'[^"\\\n]*(?:\\.[^"\\\n]*)*'  # an escape is a backslash and any character
_LABELS = re.compile(rf'(?:[ \t]*{_LABEL_NAME}[ \t]*=[ \t]*"{_LABEL_VALUE}"[ \t]*(?:,|\Z))*')
"""What may stand between the braces: labels, each followed by a comma or the end."""
_PAIR = re.compile(rf'({_LABEL_NAME})[ \t]*=[ \t]*"({_LABEL_VALUE})"')
_ESCAPE = re.compile(r'\\[\\n"]')
_UNESCAPED = {"\\\\": "\\", "\\n": "\n", '\\"': '"'}


class ExpositionError(ValueError):
    """A line that is not the text format; the message names the line."""


def _unescape(value: str) -> str:
    return _ESCAPE.sub(lambda match: _UNESCAPED[match.group(0)], value) if "\\" in value else value


def _labels(text: str) -> dict[str, str] | None:
    """The labels between the braces, or None when the fast paths cannot read them."""
    if not text:
        return {}
    if _LABELS.fullmatch(text) is None:
        return None
    pairs = _PAIR.findall(text)
    labels = {name: _unescape(value) for name, value in pairs}
    if len(labels) != len(pairs) or any(name.startswith("__") for name in labels):
        return None  # a repeated or reserved name: the reference parser decides
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
        # The hot path: name{labels} value, name and labels seen before, a plain number.
        # (The same reading as _fast's: the first "{" and the last "}" of the line.)
        name, brace, rest = line.partition("{")
        if brace:
            label_text, close, tail = rest.rpartition("}")
            labels = label_sets.get(label_text)
            if labels is not None and close and name in names and "_" not in tail:
                try:
                    append((name, labels, float(tail)))
                    continue
                except ValueError:
                    pass  # a timestamp after the value, or not a number
        else:  # no braces: name value
            name, space, tail = line.partition(" ")
            if space and name in names and "_" not in tail:
                try:
                    append((name, {}, float(tail)))
                    continue
                except ValueError:
                    pass
        if line[0] in " \t" or line[-1] in " \t\r":
            line = line.strip()
            if not line or line[0] == "#":
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
