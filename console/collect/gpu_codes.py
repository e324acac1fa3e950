"""Words for GPU numbers: clock-event (throttle) reasons, P-states, XID codes.

Shared by every GPU source (NVML, dcgm-exporter, …) through ``console.api``, so a
throttled GPU or an XID reads the same whichever way it was collected.
"""

from __future__ import annotations

# NVML clocks_event_reasons bits (nvml.h: nvmlClocksEventReason*).
CLOCK_EVENT_REASONS: dict[int, str] = {
    0x1: "idle",
    0x2: "applications clocks setting",
    0x4: "software power cap",
    0x8: "hardware slowdown",
    0x10: "sync boost",
    0x20: "software thermal slowdown",
    0x40: "hardware thermal slowdown",
    0x80: "hardware power brake",
    0x100: "display clock setting",
}
"""Bit → what it means to an operator."""

THROTTLING = 0x4 | 0x8 | 0x20 | 0x40 | 0x80
"""Reasons that mean the GPU runs slower than it could (idle and settings do not)."""

# The XIDs an on-call engineer meets most, from NVIDIA's XID catalogue.
XID_MEANINGS: dict[int, str] = {
    8: "GPU stopped processing (hang)",
    13: "graphics engine exception (often an application fault)",
    31: "GPU memory page fault (often an application fault)",
    32: "invalid or corrupted push buffer stream",
    38: "driver firmware error",
    43: "GPU stopped processing (a process was killed)",
    45: "preemptive cleanup after a fault",
    48: "double-bit ECC error",
    61: "internal micro-controller breakpoint",
    62: "internal micro-controller halt",
    63: "ECC page retirement or row remapping recorded",
    64: "ECC page retirement or row remapping failed",
    68: "video processor exception",
    69: "graphics engine class error",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate",
    94: "contained ECC error",
    95: "uncontained ECC error",
    109: "context switch timeout",
    119: "GSP RPC timeout",
    120: "GSP error",
    121: "C2C link error",
    140: "unrecovered ECC error",
}
"""XID code → short meaning."""


def clock_event_words(mask: int | None) -> list[str] | None:
    """Decode a clock-event bitmask; ``None`` when NVML could not say."""
    if mask is None:
        return None
    words = [word for bit, word in CLOCK_EVENT_REASONS.items() if mask & bit]
    unknown = mask & ~sum(CLOCK_EVENT_REASONS)
    if unknown:
        words.append(f"other (0x{unknown:x})")
    return words


def is_throttled(mask: int | None) -> bool:
    """True when any reason in the mask slows the GPU down."""
    return bool(mask and mask & THROTTLING)


def xid_meaning(code: int) -> str:
    """What an XID means, or that it is not one we know."""
    return XID_MEANINGS.get(code, "see NVIDIA's XID catalogue")


def pstate_name(value: int | None) -> str | None:
    """``P0`` … ``P15``; NVML's 32 means unknown."""
    if value is None or value == 32:
        return None
    return f"P{value}"


SHORT_REASONS: dict[str, str] = {
    "software power cap": "power cap",
    "hardware slowdown": "hw slowdown",
    "software thermal slowdown": "sw thermal",
    "hardware thermal slowdown": "hw thermal",
    "hardware power brake": "power brake",
    "applications clocks setting": "app clocks",
    "display clock setting": "display clock",
}
"""Short forms of the reasons, for a table column."""


def short_reasons(words: list[str]) -> str:
    """``sw thermal, hw thermal`` from the full words."""
    return ", ".join(SHORT_REASONS.get(word, word) for word in words)
