"""JSON for other programs: strict, and as clean as the text output.

A hostile node's strings reach ``snapshot --format json`` too: C1 controls,
``U+202E``, escape sequences. They are cleaned as for the terminal (``plain``,
without its length cut, long strings bounded higher). And JSON has no ``NaN``
or ``Infinity``: ``json.dumps`` writes them by default, which strict parsers
(``jq``, Go, browsers) refuse; a non-finite number is written as ``null``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from console.core.text import plain

MAX_JSON_STRING = 4096
"""Longest string written (the terminal's cut is 200; programs may want more)."""


def clean(value: Any) -> Any:
    """``value`` with every string cleaned and every non-finite float ``None``."""
    if isinstance(value, str):
        return plain(value, MAX_JSON_STRING)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {clean(str(key)): clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(item) for item in value]
    if value is None or isinstance(value, (bool, int)):
        return value
    return plain(value, MAX_JSON_STRING)  # anything else: its text, cleaned


def dumps(document: Any, sort_keys: bool = False) -> str:
    """Strict, clean JSON (``allow_nan=False`` proves no NaN slipped through)."""
    return json.dumps(
        clean(document), indent=2, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False
    )
