"""``watchfloor serve``: the console in a browser, every viewer reading one collector."""


class ServeUsageError(Exception):
    """A serve option the command refuses, with the reason (kept light to import)."""
