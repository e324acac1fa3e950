"""Built-in fabric plugin (placeholder)."""
from console.api import Plugin
plugin = Plugin(name="fabric", version="0.1.0")
