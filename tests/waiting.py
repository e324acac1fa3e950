"""The one way tests wait for a real process: poll a condition with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


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
