"""Built-in jobs plugin (placeholder)."""
from console.api import Plugin
plugin = Plugin(name="jobs", version="0.1.0")
