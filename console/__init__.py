"""Watchfloor: a terminal operations console for GPU and AI infrastructure."""

from __future__ import annotations

__version__ = "0.1.0"
