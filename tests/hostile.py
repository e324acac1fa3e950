"""Strings a hostile machine might send, for the hardening tests.

Each carries a marker that must never reach the terminal as an effect: Rich
markup and links, ANSI colour and screen-clearing, OSC 52 clipboard writes and
OSC 8 hyperlinks, window-title changes, C0/C1 controls, bidirectional overrides.
"""

from __future__ import annotations

CORPUS = (
    "[red]REDMARKUP[/red][link=https://evil.example/markup]LINKMARKUP[/link]",
    "[bold reverse]x[/] [@click=app.quit]CLICKME[/]",
    "\x1b[31;1mANSIRED\x1b[0m\x1b[2J\x1b[H",
    "\x1b]52;c;SE9TVElMRQ==\x07CLIPBOARD",
    "\x1b]8;;https://evil.example/osc8\x1b\\OSCLINK\x1b]8;;\x1b\\",
    "\x1b]0;PWNEDTITLE\x07TITLE",
    "\x9b31mC1CSI \x9d0;C1TITLE\x9c end",
    "BIDI\u202etxt.exe\u202c\u2066 \x00NUL\x08BS\x7fDEL\r\nNEWLINE",
    "W" * 5000,
)
"""Hostile strings; the upper-case words are what should still show, literally."""

FORBIDDEN = (
    b"\x1b]52", b"SE9TVElMRQ", b"\x1b]8;;https://evil", b"evil.example/osc8",
    b"PWNEDTITLE\x07", b"\x1b]0;PWNED", b"\x1b[31;1mANSIRED", b"\xc2\x9b", b"\xc2\x9d",
    "\u202e".encode(), "\u2066".encode(), b"\x00NUL", b"\x08BS",
)  # fmt: skip
"""Byte sequences of the corpus that must never appear in what reaches the terminal."""

SHOWN = ("[red]REDMARKUP[/red]", "ANSIRED", "CLIPBOARD", "OSCLINK")
"""Literal text that must still be visible (markup as written, payloads stripped)."""

MARKUP_CRASHERS = (
    "[a=:]", "gpt-4o[a=:]", "[A=:]", "[/]", "[b][/c]", "[$x]", "[@click=app.quit]X[/]", "x\\",
)  # fmt: skip
"""Names that end a console which parses them as markup (``MarkupError``), or that markup
would change; each must show exactly as written."""
