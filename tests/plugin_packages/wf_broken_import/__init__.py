"""A plugin whose import fails (a missing dependency, say)."""

raise ImportError("No module named 'frobnicate'")
