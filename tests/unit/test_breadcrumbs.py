"""Breadcrumbs that always fit on one line: the middle is elided, the newest kept."""

from __future__ import annotations

import pytest

from console.ui.chrome import CRUMB_SEPARATOR, fit_crumbs

TRAIL = ["Overview", "job/4711", "path/4711", "link/leaf01/p4~spine02/p1", "GPUs", "Fabric"]


def _width(parts: list[str]) -> int:
    return len(CRUMB_SEPARATOR.join(parts))


def test_a_trail_that_fits_is_shown_whole() -> None:
    assert fit_crumbs(TRAIL[:3], 80) == TRAIL[:3]


@pytest.mark.parametrize("width", [78, 60, 40, 30, 24, 16, 9, 3, 1])
def test_a_long_trail_keeps_the_first_and_the_newest_and_never_overflows(width: int) -> None:
    trail = [*TRAIL, "link/a-very-long-switch-name-0001/p12~another-long-spine-0002/p7"]
    parts = fit_crumbs(trail, width)
    assert _width(parts) <= width
    if width >= 30:
        assert parts[0] == "Overview" and parts[1] == "…"
        assert parts[-1].endswith("0002/p7")  # shortened in its middle, its end kept
    assert "…" in "".join(parts)


def test_the_middle_goes_first() -> None:
    parts = fit_crumbs(TRAIL, 60)
    assert parts == ["Overview", "…", "link/leaf01/p4~spine02/p1", "GPUs", "Fabric"]
    assert _width(parts) <= 60
