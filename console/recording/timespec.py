"""``--at TIME``: ``HH:MM[:SS]`` (local, the latest such moment), ISO-8601, or ``-10m``/``-90s``.

Times are read against a *reference*: the end of the recording (for a live console,
about now). A simulator's clock is not today's, so ``03:12`` means the last 03:12 at
or before the reference, whatever its date.
"""

from __future__ import annotations

import datetime as dt
import re

_AGO = re.compile(r"-(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
DAY = 86_400.0


def parse_duration(text: str) -> float | None:
    """``10m`` / ``90s`` / ``1h30m`` / ``24h`` in seconds, or ``None`` if it is none of those."""
    match = _AGO.fullmatch("-" + text.strip())
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def parse_time(text: str, reference: float) -> float:
    """Seconds since the epoch for ``text``; ValueError with the accepted forms."""
    text = text.strip()
    if text.startswith("-"):
        seconds = parse_duration(text[1:])
        if seconds is None:
            raise ValueError(f"{text!r}: a time ago is like -10m, -90s or -1h30m")
        return reference - seconds
    clock = _CLOCK.fullmatch(text)
    if clock is not None:
        hour, minute, second = (int(part or 0) for part in clock.groups())
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"{text!r} is not a time of day (HH:MM[:SS])")
        day = dt.datetime.fromtimestamp(reference).astimezone()
        moment = day.replace(hour=hour, minute=minute, second=second, microsecond=0)
        found = moment.timestamp()
        return found - DAY if found > reference else found
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use HH:MM[:SS], ISO-8601 (2026-11-28T03:12:00) or -10m / -90s"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is local
    return moment.timestamp()
