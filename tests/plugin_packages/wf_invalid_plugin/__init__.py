"""A plugin declared wrongly: it claims a kind the console already owns."""

from console.api import Plugin

plugin = Plugin(name="invalid", version="1.0", entity_kinds=("gpu",))
