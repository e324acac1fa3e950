"""Watchfloor plugin for rack PDUs and UPSes that serve their readings as JSON.

Everything Watchfloor needs to know about the plugin is this one ``Plugin``
object, found through the ``watchfloor.plugins`` entry point in pyproject.toml.
The pane is named with ``lazy`` so that discovering the plugin does not import
Textual (the agent and ``watchfloor snapshot`` stay light).
"""

from __future__ import annotations

from console.api import Command, MetricSpec, Pane, Plugin, SourceType, lazy

from watchfloor_pdu.analysis import pdu_findings
from watchfloor_pdu.commands import open_pdu
from watchfloor_pdu.source import OPTIONS, make_sources

__version__ = "0.1.0"

plugin = Plugin(
    name="pdu",
    version=__version__,
    entity_kinds=("pdu", "pdu-outlet"),
    metrics=(
        MetricSpec("pdu.power", "W", "active power at the inlet"),
        MetricSpec("pdu.load", "%", "inlet power as a share of the PDU's rating"),
        MetricSpec("pdu.voltage", "V", "inlet voltage"),
        MetricSpec("pdu.current", "A", "inlet current"),
        MetricSpec("pdu.energy", "J", "inlet energy since the PDU was installed", counter=True),
        MetricSpec("pdu.battery", "%", "UPS battery charge"),
        MetricSpec("pdu.runtime", "s", "UPS runtime left on battery"),
        MetricSpec("pdu-outlet.power", "W", "active power of one outlet"),
        MetricSpec("pdu-outlet.current", "A", "current of one outlet"),
    ),
    source_types=(
        SourceType("pdu", make_sources, OPTIONS, help="a PDU or UPS serving JSON (http or file)"),
    ),
    panes=(
        Pane(
            "pdu",
            "PDUs",
            lazy("watchfloor_pdu.pane:create"),
            opens=("pdu", "pdu-outlet"),
            key="u",
        ),
    ),
    analyzers=(pdu_findings,),
    commands=(Command("pdu", "open a PDU by name (pdu rack01-pdu-a)", open_pdu),),
    theme_variables={"pdu-high": "$warning", "pdu-overload": "$error"},
)
"""What the entry point ``pdu`` resolves to."""
