"""Checks what a source returned before it reaches the store.

A plugin's source may return anything: not a :class:`Batch`, an entity without a
ref, a sample whose value is a string. Merging that half-way would leave the
store inconsistent, so the engine checks the whole batch first and refuses it
with one line saying what is wrong and where (``samples[3] (pdu/a pdu.power):
value '12 W' is not a number``); the source is then shown failed with that line.

The check is one pass of ``type()`` tests, cheap next to the store's own work;
a :class:`Column` is checked whole, its lists at C speed (the types they hold, a
sum that a NaN would spoil), and read one by one only when that finds something
to convert or to name.
Kinds are not checked here: a newer agent may report kinds this console does not
know yet, and the store keeps them (``make_ref`` is where plugins meet the list).
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from itertools import chain
from types import NoneType
from typing import Any

from console.core.model import Batch, Column, Entity, Sample

NUMBER_TYPES = (float, int)
READING_TYPES = frozenset({float, type(None)})
"""What a column's values and times hold when no reading needs converting."""


def _ref_problem(ref: Any) -> str | None:
    if not isinstance(ref, str):
        return f"ref must be a string, not {type(ref).__name__}"
    kind, sep, rest = ref.partition("/")
    if not sep or not kind or not rest:
        return f"ref {ref[:60]!r} is not <kind>/<id>"
    return None


def _number(value: Any) -> float | None:
    """The value as a float, or ValueError when it is not a number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"value {value!r:.40} is not a number (or None)")
    result = float(value)
    if math.isnan(result):
        return None  # NaN is how some libraries say "not available"
    return result


def check_batch(batch: Any) -> Batch:
    """The batch itself when it is well formed (numbers made floats), else ValueError
    naming the first problem (the rest usually repeat it)."""
    if not isinstance(batch, Batch):
        raise ValueError(f"poll returned {type(batch).__name__}, not a console.api.Batch")
    if not all(isinstance(part, list) for part in (batch.entities, batch.samples, batch.columns)):
        raise ValueError("Batch.entities, Batch.samples and Batch.columns must be lists")
    if batch.time is not None and not isinstance(batch.time, NUMBER_TYPES):
        raise ValueError(f"Batch.time must be seconds since the epoch, not {batch.time!r:.40}")
    if not isinstance(batch.meta, dict):
        raise ValueError("Batch.meta must be a dict")
    for index, entity in enumerate(batch.entities):
        problem = _entity_problem(entity)
        if problem is not None:
            where = getattr(entity, "ref", None)
            label = f" ({where[:60]})" if isinstance(where, str) else ""
            raise ValueError(f"entities[{index}]{label}: {problem}")
    for index, sample in enumerate(batch.samples):
        # The common case, in as few operations as possible (tens of thousands a poll).
        if (
            type(sample) is Sample
            and type(ref := sample.ref) is str
            and type(sample.metric) is str
            and ((value := sample.value) is None or (type(value) is float and value == value))
            and ((stamp := sample.time) is None or type(stamp) is float)
            and 0 < ref.find("/") < len(ref) - 1
        ):
            continue
        if not isinstance(sample, Sample):
            raise ValueError(f"samples[{index}]: {type(sample).__name__}, not a Sample")
        ref, metric = sample.ref, sample.metric
        problem = _ref_problem(ref)
        if problem is None and not isinstance(metric, str):
            problem = f"metric must be a string, not {type(metric).__name__}"
        if problem is None:
            try:
                sample.value = _number(sample.value)
                if sample.time is not None:
                    sample.time = _number(sample.time)
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            label = f" ({ref[:60]} {metric})" if isinstance(ref, str) else ""
            raise ValueError(f"samples[{index}]{label}: {problem}")
    if batch.columns and _columns_plain(batch.columns):
        return batch
    shaped: set[int] = set()  # refs lists found well formed (columns may share one)
    for index, column in enumerate(batch.columns):
        _check_column(index, column, shaped)
    return batch


_METRIC, _REFS, _VALUES, _TIMES = map(operator.attrgetter, ("metric", "refs", "values", "times"))


def _columns_plain(columns: list[Any]) -> bool:
    """Whether every column is well formed with nothing to convert, found for all of
    them at once at C speed (an agent's stream brings tens of short columns a poll, a
    thousand polls a second); False sends them one by one to :func:`_check_column`,
    which converts what needs it and names what is wrong."""
    if set(map(type, columns)) != {Column}:
        return False
    metrics, refs = list(map(_METRIC, columns)), list(map(_REFS, columns))
    values, times = list(map(_VALUES, columns)), list(map(_TIMES, columns))
    if (
        set(map(type, metrics)) != {str}
        or set(map(type, refs)) != {list}
        or set(map(type, values)) != {list}
        or times.count(None) != len(times)  # readings with their own times: one by one
        or list(map(len, refs)) != list(map(len, values))
    ):
        return False
    readings = chain.from_iterable
    if not set(map(type, readings(values))) <= READING_TYPES:
        return False
    total = sum(filter(None, readings(values)))
    distinct = list({id(each): each for each in refs}.values())  # columns may share refs
    return total == total and all_refs_shaped(list(readings(distinct)))


def _check_column(index: int, column: Any, shaped: set[int]) -> None:
    """Check one column whole (its numbers made floats), else ValueError naming the
    column and, for a bad reading, its place and ref."""
    if type(column) is not Column:
        raise ValueError(f"columns[{index}]: {type(column).__name__}, not a Column")
    metric = column.metric
    if not isinstance(metric, str):
        raise ValueError(f"columns[{index}]: metric must be a string, not {type(metric).__name__}")
    refs, values, times = column.refs, column.values, column.times
    # The common case first, in few operations: a fleet's stream brings tens of columns
    # of a few readings each, a thousand times a second.
    plain_lists = type(refs) is list and type(values) is list and type(times) in (list, NoneType)
    if not plain_lists and not all(isinstance(part, list) for part in (refs, values, times or [])):
        raise ValueError(f"{_where(index, metric)}: refs, values and times must be lists")
    if len(values) != len(refs) or (times is not None and len(times) != len(refs)):
        lengths = f"{len(refs)} refs, {len(values)} values" + (
            f", {len(times)} times" if times is not None else ""
        )
        raise ValueError(f"{_where(index, metric)}: {lengths}: one each per reading")
    if id(refs) not in shaped:
        if refs and not all_refs_shaped(refs):
            for place, ref in enumerate(refs):  # something to name (or a ref with a NUL)
                problem = _ref_problem(ref)
                if problem is not None:
                    raise ValueError(f"{_where(index, metric)} refs[{place}]: {problem}")
        shaped.add(id(refs))
    column.values = _numbers(values, refs, index, metric, "values")
    if times is not None:
        column.times = _numbers(times, refs, index, metric, "times")


def _where(index: int, metric: str) -> str:
    """How an error names a column."""
    return f"columns[{index}] ({metric[:60]})"


def all_refs_shaped(refs: list[Any]) -> bool:
    """Whether every one is a string ``<kind>/<id>``, found in C (on their text joined
    by NULs); False may be wrong for a ref holding a NUL, never True for a bad one."""
    try:
        joined = "\0%s\0" % "\0".join(refs)  # noqa: UP031 - the same, faster than f"" here
    except TypeError:  # not all strings
        return False
    return not ("\0/" in joined or "/\0" in joined or _NO_SLASH.search(joined))


_NO_SLASH = re.compile("\0[^/\0]*\0")
"""A ref without a ``/`` (the search jumps from NUL to NUL)."""


def _numbers(
    items: list[Any], refs: list[str], index: int, metric: str, what: str
) -> list[float | None]:
    """``items`` itself when it holds only floats (no NaN) and ``None``; else a copy
    with numbers made floats and NaN ``None``, or ValueError naming the first bad one."""
    # A NaN, or infinities of both signs, make the sum NaN: then look one by one.
    if set(map(type, items)) <= READING_TYPES and (total := sum(filter(None, items))) == total:
        return items
    result = []
    for place, item in enumerate(items):
        try:
            result.append(_number(item))
        except ValueError as exc:
            where = f"{_where(index, metric)} {what}[{place}] ({refs[place][:60]})"
            raise ValueError(f"{where}: {exc}") from None
    return result


def _entity_problem(entity: Any) -> str | None:
    if not isinstance(entity, Entity):
        return f"{type(entity).__name__}, not an Entity"
    problem = _ref_problem(entity.ref)
    if problem is not None:
        return problem
    if not isinstance(entity.name, str):
        return f"name must be a string, not {type(entity.name).__name__}"
    if entity.parent is not None and _ref_problem(entity.parent) is not None:
        return f"parent {entity.parent!r:.60} is not a ref"
    if not isinstance(entity.attrs, dict):
        return f"attrs must be a dict, not {type(entity.attrs).__name__}"
    return None
