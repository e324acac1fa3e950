"""The node agent (aiohttp server) and the console-side source that polls agents."""
