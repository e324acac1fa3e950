"""``--format json`` is strict JSON and as clean as the text output (issue 14.13)."""

from __future__ import annotations

import json
import math
import re

from console.core.json_out import dumps
from tests.hostile import CORPUS

UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _strict(text: str) -> object:
    def refuse(constant: str) -> object:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_hostile_strings_and_non_finite_numbers_come_out_clean_and_strict() -> None:
    document = {
        "nodes": [
            {"ref": f"node/{text}", "name": text, "attrs": {text: math.nan}} for text in CORPUS
        ],
        "values": [math.inf, -math.inf, math.nan, 1.5, 2, True, None],
    }
    out = dumps(document, sort_keys=True)
    parsed = _strict(out)
    assert not UNSAFE.search(out.replace("\n", "")), "a control or bidi mark got out"
    assert not UNSAFE.search(json.dumps(parsed, ensure_ascii=False))  # nor escaped as \u
    assert parsed["values"] == [None, None, None, 1.5, 2, True, None]  # type: ignore[index]
    names = [n["name"] for n in parsed["nodes"]]  # type: ignore[index]
    assert "[red]REDMARKUP[/red]" in names[0] and "ANSIRED" in names[2]
