"""A plugin written for an API version this console does not provide."""

from console.api import Plugin

plugin = Plugin(name="old-api", version="9.9", api_version=99)
