"""The check of the numbers in an agent's entity attrs, against hostile shapes."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from console.agent.wire import WireError, check_attr_numbers


def test_the_bad_number_is_named_by_its_path() -> None:
    attrs = {"processes": [{"pid": 1, "gpu_mem_mib": 10}, {"pid": 2, "gpu_mem_mib": float("inf")}]}
    with pytest.raises(WireError, match=r"processes\[1\]\.gpu_mem_mib of gpu/n1/0"):
        check_attr_numbers(attrs, "gpu/n1/0")
    check_attr_numbers({"processes": [{"pid": 1}], "big": 2**64 - 1, "small": -(2**63)}, "g")


def test_wide_and_deep_attrs_are_checked_in_memory_that_grows_with_them_not_their_depth() -> None:
    """Fifty thousand lists 200 deep, the bad number last: each waiting list carried a
    copy of its 200-step path (80 MB here; a 32 MB frame made gigabytes)."""
    inner: list[Any] = [[] for _ in range(50_000)] + [float("inf")]
    attrs: dict[str, Any] = {"deep": inner}
    for _ in range(200):
        attrs = {"deep": [attrs]}
    tracemalloc.start()
    try:
        with pytest.raises(WireError, match=r"deep\[0\]\.deep\[0\]"):
            check_attr_numbers(attrs, "gpu/n1/0")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.0f} MB"
