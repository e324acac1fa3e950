"""Making strings from other machines safe to show.

Hostnames, job names and command lines come from remote machines. They are shown
as plain text: escape sequences, control characters and bidirectional overrides
are dropped, and very long strings are cut. Widgets then render the result as
``rich.text.Text`` (never as markup), so ``[red]`` stays literally ``[red]``.
"""

from __future__ import annotations

import re

MAX_LENGTH = 200
"""Longest string shown from a remote source."""

# ESC-introduced sequences (CSI, OSC incl. OSC 52 clipboard writes, DCS, single-char).
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[\]P^_X][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC / DCS / PM / APC / SOS strings
    r"|\x1b[@-Z\\-_]?"  # two-character escapes, or a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x90\x9d\x9e\x9f][^\x07\x9c]*(?:\x07|\x9c)?"  # 8-bit DCS/OSC/PM/APC
)
# C0/C1 controls (tab and newline become spaces) and bidi/invisible formatting marks.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def plain(value: object, limit: int = MAX_LENGTH) -> str:
    """Return ``value`` as one safe line of plain text, at most ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    text = _ESCAPES.sub("", text)
    text = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    text = _CONTROLS.sub("", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
