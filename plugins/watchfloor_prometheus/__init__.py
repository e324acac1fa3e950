"""Built-in Prometheus plugin: the exporters sites already run, and Prometheus itself.

Two source types (light to import: aiohttp and the tables load when one is made):

- ``exporter``: one text exposition (dcgm-exporter, node_exporter, vLLM,
  snmp_exporter, gNMI collectors, an agent's ``/metrics``), over HTTP(S) or a file;
- ``prometheus``: the fleet from a Prometheus-compatible ``/api/v1/query``.

See docs/prometheus.md.
"""

from __future__ import annotations

from console.api import Option, Plugin, Source, SourceContext, SourceType


def _exporter(context: SourceContext) -> list[Source]:
    from watchfloor_prometheus.exporter_source import make_exporter_sources

    return make_exporter_sources(context)


def _prometheus(context: SourceContext) -> list[Source]:
    from watchfloor_prometheus.query_source import make_prometheus_sources

    return make_prometheus_sources(context)


HTTP_OPTIONS = (
    Option("token_file", (str,), help="file holding a bearer token sent with each request"),
    Option("tls_ca", (str,), help="CA that signed the server's certificate"),
    Option("tls_cert", (str,), help="client certificate, for servers that verify clients"),
    Option("tls_key", (str,), help="key of the client certificate"),
)
SWITCH_OPTIONS = (
    Option(
        "switch_label", (str,), help="label naming the switch (default sysName, source, instance)"
    ),
    Option("port_label", (str,), help="label naming the port (default ifName, interface_name)"),
    Option("port_match", (str,), help="regex a port name must match to be renamed"),
    Option("port_replace", (str,), help="its replacement (\\1 for a group): Ethernet1/1 → p1"),
)
INFINIBAND_OPTIONS = (
    Option(
        "infiniband_data",
        (str,),
        "auto",
        help="infiniband_exporter's *_data_bytes_total: bytes (v0.10+), words (before), auto",
    ),
)
VLLM_OPTIONS = (
    Option(
        "gpus",
        (str, int),
        help="GPU indices a vLLM server runs on (0-3,6); default: the GPUs seen on its node",
    ),
)

EXPORTER_SOURCE = SourceType(
    name="exporter",
    factory=_exporter,
    options=(
        Option("url", (str,), required=True, help="http(s)://host:port/metrics or file:///path"),
        Option(
            "exporter",
            (str,),
            "auto",
            help="auto, or the table(s) to use: dcgm, nvidia-smi, node, watchfloor, snmp, gnmi, "
            "infiniband, vllm",
        ),
        Option(
            "node",
            (str,),
            help="the node (or switch) these metrics are about, when the labels do not say",
        ),
        Option("timeout", (int, float), 5.0, help="seconds before a scrape is a timeout"),
        *HTTP_OPTIONS,
        *SWITCH_OPTIONS,
        *INFINIBAND_OPTIONS,
        *VLLM_OPTIONS,
    ),
    help="one Prometheus text exposition (an exporter's /metrics, or a file)",
)
"""``type: exporter`` in the config."""

PROMETHEUS_SOURCE = SourceType(
    name="prometheus",
    factory=_prometheus,
    options=(
        Option("url", (str,), required=True, help="the server, e.g. http://prometheus:9090"),
        Option("selector", (str,), "", help='label matchers added to every query: cluster="a"'),
        Option("job", (str,), help="regex the job label must match"),
        Option(
            "exporters", (str,), "auto", help="auto, or the tables to query: dcgm,nvidia-smi,node,…"
        ),
        Option(
            "node_label",
            (str,),
            help="label that names the node (default: the exporter's own, then instance)",
        ),
        Option("timeout", (int, float), 10.0, help="seconds before a query is a timeout"),
        Option(
            "identity_interval",
            (int, float),
            30.0,
            help="seconds between reads of the labels that only describe (GPU model, pods)",
        ),
        *HTTP_OPTIONS,
        *SWITCH_OPTIONS,
        *INFINIBAND_OPTIONS,
    ),
    help="the fleet from a Prometheus-compatible query API",
)
"""``type: prometheus`` in the config."""

plugin = Plugin(
    name="prometheus",
    version="0.1.0",
    source_types=(EXPORTER_SOURCE, PROMETHEUS_SOURCE),
)
"""What the entry point ``prometheus`` resolves to."""
