"""A stand-in for Prometheus's instant-query API over a fixed set of series.

It answers ``POST /api/v1/query`` (and ``/api/v1/query_range``, over the series
``past`` gives for each step's time) for the query shapes the ``prometheus`` source
sends, ``max by (labels) ({matchers})`` and ``count by (labels) ({matchers})``,
with Prometheus's meaning: matchers ``=``, ``!=``, ``=~``, ``!~`` (regexes
anchored, an absent label matches ``""``), one answer series per group, empty
labels left out, values written as strings. Anything else is refused with
``bad_data``, as Prometheus refuses what it cannot parse. Answers are kept per
query text, so a benchmark measures the client, not this.

Used where a real Prometheus cannot serve: 8,000 GPUs' series in the benchmark,
and series that change between two refreshes in the tests. The integration tests
hold the source to a real Prometheus too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

QUERY = re.compile(r"\s*(max|count) by \(([^)]*)\) \(\{(.*)\}\)\s*\Z", re.S)
MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|\Z)')


def format_value(value: float) -> str:
    """A value as Prometheus writes it (Go's ``FormatFloat(v, 'f', -1, 64)``, near enough)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


class PrometheusApi:
    """The series (name, labels, value) a Prometheus would hold, and its query API."""

    def __init__(
        self, series: Iterable[tuple[str, Mapping[str, str], float]], time: float = 1.7e9
    ) -> None:
        self.series = [({"__name__": name, **labels}, value) for name, labels, value in series]
        self.time = time
        self.queries: list[str] = []
        """Every query asked, in order."""
        self.range_queries: list[tuple[str, float, float, float]] = []
        """Every range query asked: (query, start, end, step)."""
        self.past: Callable[[float], Iterable[tuple[str, Mapping[str, str], float]]] | None = None
        """The series the server held at a time (range queries); ``None``: no past kept."""
        self._answers: dict[str, bytes] = {}

    def set_series(self, series: Iterable[tuple[str, Mapping[str, str], float]]) -> None:
        """What the server holds from now on (a scrape that found other series)."""
        self.series = [({"__name__": name, **labels}, value) for name, labels, value in series]
        self._answers.clear()

    def answer(self, query: str) -> bytes:
        """The JSON answer to one instant query."""
        if query not in self._answers:
            self._answers[query] = json.dumps(self._evaluate(query), separators=(",", ":")).encode()
        return self._answers[query]

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            query = str((await request.post()).get("query", ""))
            self.queries.append(query)
            body = self.answer(query)
            status = 400 if b'"status":"error"' in body[:40] else 200
            return web.Response(body=body, status=status, content_type="application/json")

        async def handle_range(request: web.Request) -> web.Response:
            form = await request.post()
            query = str(form.get("query", ""))
            start, end, step = (float(str(form.get(k, "nan"))) for k in ("start", "end", "step"))
            self.range_queries.append((query, start, end, step))
            document = self.range_answer(query, start, end, step)
            status = 400 if document["status"] == "error" else 200
            return web.json_response(document, status=status)

        app = web.Application()
        app.router.add_post("/api/v1/query", handle)
        app.router.add_post("/api/v1/query_range", handle_range)
        return app

    def range_answer(self, query: str, start: float, end: float, step: float) -> dict[str, object]:
        """A matrix: the query evaluated over ``past(t)`` at each step from start to end."""
        if not step > 0 or not end >= start:
            return {"status": "error", "errorType": "bad_data", "error": "bad start, end or step"}
        matrix: dict[tuple[tuple[str, str], ...], list[list[object]]] = {}
        when = start
        while when <= end:
            held = self.series
            if self.past is not None:
                held = [({"__name__": n, **labels}, v) for n, labels, v in self.past(when)]
            answer = self._evaluate(query, held, when)
            if answer["status"] != "success":
                return answer
            for item in answer["data"]["result"]:  # type: ignore[index]
                key = tuple(sorted(item["metric"].items()))
                matrix.setdefault(key, []).append(item["value"])
            when += step
        result = [{"metric": dict(key), "values": points} for key, points in matrix.items()]
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}

    def _evaluate(
        self,
        query: str,
        held: list[tuple[dict[str, str], float]] | None = None,
        when: float | None = None,
    ) -> dict[str, Any]:
        shape = QUERY.match(query)
        matchers = _matchers(shape.group(3)) if shape else None
        if shape is None or matchers is None:
            return {"status": "error", "errorType": "bad_data", "error": f"cannot parse {query!r}"}
        operator, by = shape.group(1), [label.strip() for label in shape.group(2).split(",")]
        groups: dict[tuple[str, ...], list[float]] = {}
        for labels, value in self.series if held is None else held:
            if all(test(labels.get(name, "")) for name, test in matchers):
                groups.setdefault(tuple(labels.get(label, "") for label in by), []).append(value)
        result = []
        for key, values in groups.items():
            numbers = [v for v in values if not math.isnan(v)]
            value = float(len(values)) if operator == "count" else max(numbers or values)
            metric = {label: v for label, v in sorted(zip(by, key, strict=True)) if v}
            stamp = self.time if when is None else when
            result.append({"metric": metric, "value": [stamp, format_value(value)]})
        return {"status": "success", "data": {"resultType": "vector", "result": result}}


Test = Callable[[str], bool]


def _matchers(text: str) -> list[tuple[str, Test]] | None:
    """``name=~"re", job="x"`` as (label, test) pairs, or None if it is not that."""
    tests: list[tuple[str, Test]] = []
    position = 0
    while position < len(text):
        found = MATCHER.match(text, position)
        if found is None:
            return None
        name, operator, quoted = found.group(1), found.group(2), found.group(3)
        wanted = re.sub(r"\\(.)", r"\1", quoted)
        try:
            pattern = re.compile(wanted)
        except re.error:
            return None
        test: Test = {
            "=": lambda v, w=wanted: v == w,
            "!=": lambda v, w=wanted: v != w,
            "=~": lambda v, p=pattern: p.fullmatch(v) is not None,
            "!~": lambda v, p=pattern: p.fullmatch(v) is None,
        }[operator]
        tests.append((name, test))
        position = found.end()
    return tests
