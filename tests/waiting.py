"""The one way tests wait for a real process: poll a condition with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest


def wait_for(check: Callable[[], Any], within: float, what: str, every: float = 0.1) -> Any:
    """Poll ``check`` every ``every`` seconds until it returns something truthy (returned);
    after ``within`` seconds raise TimeoutError naming ``what`` and the last answer."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {within:g}s (last: {last!r})")


def timeouts_armed(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """The delay of each ``asyncio.timeout`` armed from now on, in order (a timer made,
    pushed on the loop's heap and cancelled: what a poll that waits for nothing saves)."""
    armed: list[float | None] = []
    timeout = asyncio.timeout

    def counted(delay: float | None) -> asyncio.Timeout:
        armed.append(delay)
        return timeout(delay)

    monkeypatch.setattr(asyncio, "timeout", counted)
    return armed
