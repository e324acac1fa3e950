"""Built-in gpu plugin (placeholder)."""
from console.api import Plugin
plugin = Plugin(name="gpu", version="0.1.0")
