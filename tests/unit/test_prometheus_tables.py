"""The mapping tables on real exporter outputs: the right entities, refs and values."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.agent.exposition import render_metrics
from console.analysis.cost import CostModel, power_summary
from console.api import METRICS, Batch, Entity, SourceError
from console.core.model import prometheus_name
from console.core.store import Store
from tests.conftest import FIXTURES
from watchfloor_prometheus.agent import exposed_name
from watchfloor_prometheus.exporter_source import ExporterSource
from watchfloor_prometheus.exposition import ExpositionError, parse
from watchfloor_prometheus.mapping import Builder, Scope, short_host
from watchfloor_prometheus.tables import TABLES, map_series, select

Values = dict[tuple[str, str], float | None]


def read(
    text: str, now: float = 1000.0, source: ExporterSource | None = None, **options: Any
) -> tuple[dict[str, Entity], Values]:
    """Entities by ref and values by (ref, metric) from one exposition."""
    if source is None:
        node = options.pop("node", None)
        exporter = str(options.pop("exporter", "auto"))
        source = ExporterSource("file:///metrics.txt", 1.0, select(exporter), node=node,
                                options=options)  # fmt: skip
    batch = source.read(text, now)
    return {e.ref: e for e in batch.entities}, {
        (s.ref, s.metric): s.value for s in batch.as_samples()
    }


def fixture(path: str) -> str:
    return (FIXTURES / path).read_text()


def test_dcgm_t4_and_a10g_gpus_with_the_values_in_the_file() -> None:
    entities, values = read(fixture("dcgm-exporter/t4-a10g-metrics.txt"))
    gpus = sorted(ref for ref in entities if ref.startswith("gpu/"))
    # three GPUs named by their Hostname label; the unlabelled dummy rows make none
    assert gpus == ["gpu/424773df46e0/0", "gpu/551bdf382151/0", "gpu/ip-11111/0"]
    first = "gpu/424773df46e0/0"
    assert values[(first, "gpu.sm_clock")] == 300
    assert values[(first, "gpu.mem_clock")] == 405
    assert values[(first, "gpu.temp")] == 25
    assert values[(first, "gpu.power")] == pytest.approx(8.969)
    assert values[(first, "gpu.energy")] == pytest.approx(128996.013)  # mJ → J
    assert values[(first, "gpu.mem_used")] == 0 and values[(first, "gpu.mem_total")] == 15109
    assert values[(first, "gpu.xid")] is None  # 0: no XID
    assert entities[first].attrs["model"] == "Tesla T4"
    assert entities[first].attrs["uuid"] == "GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e"
    assert entities[first].parent == "node/424773df46e0"
    second = "gpu/551bdf382151/0"
    assert values[(second, "gpu.power_limit")] == 70
    assert values[(second, "gpu.mem_total")] == 15109  # DCGM_FI_DEV_FB_TOTAL
    attrs = entities[second].attrs
    assert (attrs["pstate"], attrs["throttle"], attrs["throttled"]) == ("P8", ["idle"], False)
    assert attrs["serial"] == "1565220008176" and attrs["driver"] == "470.182.03"
    a10g = entities["gpu/ip-11111/0"].attrs
    assert a10g["model"] == "NVIDIA A10G" and a10g["pods"] == ["ray-llm/ray-1111111"]


def test_dcgm_h100_node_with_pods() -> None:
    entities, values = read(fixture("dcgm-exporter/h100-8gpu-sampled.txt"))
    assert sorted(r for r in entities if r.startswith("gpu/")) == [
        f"gpu/gpu-node-1/{i}" for i in range(8)
    ]
    assert values[("gpu/gpu-node-1/0", "gpu.power")] == pytest.approx(113.611)
    assert values[("gpu/gpu-node-1/7", "gpu.temp")] == 26
    assert values[("gpu/gpu-node-1/5", "gpu.util")] == 0
    assert entities["gpu/gpu-node-1/0"].attrs["pods"] == [
        "dynamo-workload/vllm-agg-0-vllmdecodeworker-s65j5"
    ]
    assert entities["gpu/gpu-node-1/3"].attrs["pci_bus_id"] == "00000000:86:00.0"


def test_dcgm_mig_instances_are_one_gpu_told_apart_by_instance() -> None:
    text = fixture("dcgm-exporter/h100-mig-issue512-excerpt.txt")
    # the same GPU's instances again with memory, and a power reading repeated per instance
    extra = "\n".join(
        f'DCGM_FI_DEV_FB_USED{{gpu="0",UUID="GPU-58e8f5ea-13cc-013a-d88f-2bcf5ae8bc77",'
        f'GPU_I_PROFILE="1g.10gb",GPU_I_ID="{i}",Hostname="gsrh100-074"}} {used}\n'
        f'DCGM_FI_DEV_POWER_USAGE{{gpu="0",UUID="GPU-58e8f5ea-13cc-013a-d88f-2bcf5ae8bc77",'
        f'GPU_I_PROFILE="1g.10gb",GPU_I_ID="{i}",Hostname="gsrh100-074"}} 71.5'
        for i, used in ((7, 100), (8, 200), (9, 300))
    )
    entities, values = read(text + "\n" + extra)
    assert [r for r in entities if r.startswith("gpu/")] == ["gpu/gsrh100-074/0"]
    mig = entities["gpu/gsrh100-074/0"].attrs["mig"]
    assert [(m["gpu_instance"], m["profile"], m["mem_used_mib"]) for m in mig] == [
        (7, "1g.10gb", 100),
        (8, "1g.10gb", 200),
        (9, "1g.10gb", 300),
    ]
    assert values[("gpu/gsrh100-074/0", "gpu.mem_used")] == 600  # the instances' sum
    assert values[("gpu/gsrh100-074/0", "gpu.power")] == 71.5  # once, not three times
    assert values[("gpu/gsrh100-074/0", "gpu.util")] == 0.0  # from GR_ENGINE_ACTIVE


def test_dcgm_no_data_sentinels_and_the_last_xid() -> None:
    labels = 'gpu="2",UUID="GPU-x",hostname="gpu007"'
    text = (
        f"DCGM_FI_DEV_MEMORY_TEMP{{{labels}}} 9223372036854775794\n"
        f"DCGM_FI_DEV_GPU_TEMP{{{labels}}} 2147483632\n"
        f"DCGM_FI_DEV_POWER_USAGE{{{labels}}} 140737488355328.000000\n"
        f"DCGM_FI_DEV_FAN_SPEED{{{labels}}} 2147483647\n"
        f"DCGM_FI_DEV_XID_ERRORS{{{labels}}} 79\n"
    )
    entities, values = read(text, now=500.0)
    ref = "gpu/gpu007/2"  # the renamed `hostname` label names the node
    assert values[(ref, "gpu.temp")] is None and values[(ref, "gpu.power")] is None
    assert values[(ref, "gpu.fan")] is None and values[(ref, "gpu.xid")] == 79
    attrs = entities[ref].attrs
    assert attrs["last_xid"]["code"] == 79 and attrs["last_xid"]["time"] == 500.0
    assert attrs["health"].startswith("XID 79: ")


def test_node_exporter_infiniband_netdev_hwmon_rapl_values_from_the_file() -> None:
    text = fixture("node_exporter/e2e-output-infiniband-netdev-hwmon-rapl.txt")
    entities, values = read(text, node="ib01")
    ports = sorted(r for r in entities if r.startswith("port/"))
    assert ports == ["port/ib01/bond0", "port/ib01/eth0", "port/ib01/i40iw0:1",
                     "port/ib01/mlx4_0:1", "port/ib01/mlx4_0:2"]  # fmt: skip
    one = "port/ib01/mlx4_0:1"
    assert values[(one, "port.rx_bytes")] == 1.8527668e07
    assert values[(one, "port.tx_bytes")] == 1.493376e07
    assert values[(one, "port.rx_packets")] == 6.825908347e09
    assert values[(one, "port.tx_packets")] == 6.235865e06
    assert values[(one, "port.xmit_wait")] == 4.294967295e09
    assert values[(one, "port.discards")] == 5
    assert values[(one, "port.link_downed")] == 0
    attrs = entities[one].attrs
    assert (attrs["speed_gbps"], attrs["state"], attrs["phys_state"]) == (40.0, "ACTIVE", "LinkUp")
    assert (attrs["hca_type"], attrs["firmware"]) == ("MT4099", "2.31.5050")
    # The 64-bit legacy (counters_ext) data counters win: the 32-bit ones of port 2 read 0.
    assert values[("port/ib01/mlx4_0:2", "port.rx_bytes")] == 1.8527668e07
    assert values[("port/ib01/mlx4_0:2", "port.tx_bytes")] == 1.493376e07
    assert values[(one, "port.rx_discards")] == 0
    assert values[(one, "port.link_error_recovery")] == 0
    assert values[("port/ib01/eth0", "port.carrier_changes")] == 2
    assert entities["port/ib01/i40iw0:1"].attrs["speed_gbps"] == 10.0
    assert entities["port/ib01/eth0"].attrs["speed_gbps"] == 1.0
    assert entities["port/ib01/eth0"].attrs["state"] == "up"
    assert values[("node/ib01", "node.temp_max")] == 57
    assert values[("node/ib01", "node.cpu_energy")] == pytest.approx(240422.366267)


def test_node_exporter_ports_match_the_host_source_for_the_same_tree() -> None:
    from watchfloor_host.source import HostSource

    host = HostSource(1.0, str(FIXTURES / "node_exporter/sys/sys"), node="ib01").collect()
    compared = ("port.tx_bytes", "port.rx_bytes", "port.rx_discards",
                "port.link_error_recovery", "port.carrier_changes")  # fmt: skip
    host_ports = {
        (s.ref, s.metric): s.value
        for s in host.samples
        if s.ref.startswith("port/") and s.metric in compared
    }
    _, values = read(fixture("node_exporter/e2e-output-infiniband-netdev-hwmon-rapl.txt"),
                     node="ib01")  # fmt: skip
    assert {metric for _, metric in host_ports} == set(compared)
    for key, value in host_ports.items():
        if key[0].endswith(":1") or key[0].endswith(":2"):  # netdev bytes: not in the subset
            assert values[key] == value, key
    assert host_ports[("port/ib01/eth0", "port.carrier_changes")] == 2


def test_node_exporter_names_the_node_from_uname_and_reads_cpu_between_polls() -> None:
    text = fixture("node_exporter/node-exporter-1.5.0-debian-full.txt")
    source = ExporterSource("http://10.0.0.9:9100/metrics", 1.0, select("node"))
    entities, values = read(text, 1000.0, source)
    assert "node/vm" in entities and values[("node/vm", "node.cpu_util")] is None
    assert "port/vm/lo" not in entities and "port/vm/eth0" in entities
    assert values[("node/vm", "node.mem_total")] > values[("node/vm", "node.mem_used")] > 0
    busier = text.replace('mode="user"} ', 'mode="user"} 1000+')  # not a number any more
    with pytest.raises(SourceError, match=r"metrics.txt: line \d+"):
        read(busier, 1001.0, ExporterSource("file:///metrics.txt", 1.0, select("node")))
    lines = [
        line if not line.startswith('node_cpu_seconds_total{cpu="0",mode="user"}')
        else f'node_cpu_seconds_total{{cpu="0",mode="user"}} {float(line.split()[-1]) + 1.0}'
        for line in text.split("\n")
    ]  # fmt: skip
    _, values = read("\n".join(lines), 1001.0, source)
    assert values[("node/vm", "node.cpu_util")] == pytest.approx(100.0)  # only busy time grew


def test_ethtool_pfc_pause_counters_add_up_per_interface() -> None:
    text = (
        "\n".join(
            f'node_ethtool_received_prio{p}_pause{{device="ens1f0np0"}} {p * 10}' for p in range(8)
        )
        + '\nnode_ethtool_received_bytes{device="ens1f0np0"} 5'
    )
    _, values = read(text, node="n1")
    assert values[("port/n1/ens1f0np0", "port.pfc_pause_rx")] == 280


def test_mlx5_hw_counters_under_node_exporter_names() -> None:
    labels = 'device="mlx5_0",port="1"'
    text = (f"node_infiniband_np_ecn_marked_roce_packets_received_total{{{labels}}} 11\n"
            f"node_infiniband_np_cnp_packets_sent_total{{{labels}}} 12\n"
            f"node_infiniband_rp_cnp_packets_handled_total{{{labels}}} 13\n")  # fmt: skip
    _, values = read(text, node="n1")
    port = "port/n1/mlx5_0:1"
    assert [values[(port, m)] for m in ("port.ecn_marked", "port.cnp_sent", "port.cnp_handled")] \
        == [11, 12, 13]  # fmt: skip


def test_vllm_server_is_an_inference_job_with_tokens_per_second_and_cost() -> None:
    text = fixture("vllm/vllm_metrics.txt")
    source = ExporterSource(
        "http://gpu042:8000/metrics", 1.0, select("vllm"), options={"gpus": "0-1"}
    )
    entities, values = read(text, 1000.0, source)
    job = entities["job/vllm-gpu042-8000"]
    assert job.name == "facebook/opt-125m"
    assert job.attrs["gpus"] == ["gpu/gpu042/0", "gpu/gpu042/1"]
    assert job.attrs["throughput_unit"] == "tokens/s"
    assert values[(job.ref, "job.prompt_tokens")] == 5
    assert values[(job.ref, "job.generation_tokens")] == 7
    assert values[(job.ref, "job.requests_running")] == 0
    assert values[(job.ref, "job.kv_cache_usage")] == 0
    assert values[(job.ref, "job.ttft")] == pytest.approx(0.31326723098754883)
    assert values[(job.ref, "job.throughput")] == 0  # V0 reports its own average
    model = '{model_name="facebook/opt-125m"}'
    later = (
        text.replace(
            f"generation_tokens_total{model} 7.0", f"generation_tokens_total{model} 5007.0"
        )
        .replace("avg_generation_throughput_toks_per_s", "removed_in_v1")
        .replace(f"seconds_count{model} 1.0", f"seconds_count{model} 3.0", 1)
        .replace(f"_sum{model} 0.31326723098754883", f"_sum{model} 0.71326723098754883")
    )
    source = ExporterSource(
        "http://gpu042:8000/metrics", 1.0, select("vllm"), options={"gpus": "0-1"}
    )
    read(text.replace("avg_generation_throughput_toks_per_s", "removed_in_v1"), 1000.0, source)
    batch = source.read(later, 1010.0)
    values = {(s.ref, s.metric): s.value for s in batch.as_samples()}
    assert values[(job.ref, "job.throughput")] == pytest.approx(500.0)  # 5000 tokens in 10 s
    assert values[(job.ref, "job.ttft")] == pytest.approx(0.2)  # 0.4 s over 2 new requests
    store = Store()
    store.apply(batch, "vllm", 1010.0)
    for gpu in ("gpu/gpu042/0", "gpu/gpu042/1"):
        store.apply(Batch(entities=[Entity(gpu, gpu)]), "dcgm", 1010.0)
    summary = power_summary(store, CostModel(gpu_hour=2.5, price_per_kwh=0.0))
    (inference,) = summary["inference"]
    assert inference["tokens_per_s"] == 500.0
    assert inference["cost_per_million_tokens"] == pytest.approx(2 * 2.5 / (500 * 3600) * 1e6, 1e-3)


def test_agent_metrics_map_back_to_the_agents_refs_for_every_metric() -> None:
    for metric in METRICS:
        assert exposed_name(metric)[0].startswith(prometheus_name(metric)[0])
    entities = [Entity("node/n7", "n7"), Entity("gpu/n7/0", "GPU 0", "node/n7", {"uuid": "GPU-a"}),
                Entity("port/n7/mlx5_0:1", "mlx5_0:1", "node/n7")]  # fmt: skip
    samples = [("gpu/n7/0", "gpu.mem_used", 61000.0), ("gpu/n7/0", "gpu.sm_clock", 1980.0),
               ("port/n7/mlx5_0:1", "port.tx_bytes", 123.0), ("node/n7", "node.load1", 2.5),
               ("gpu/n7/0", "gpu.energy", 5.0)]  # fmt: skip
    exposition = render_metrics("n7", entities, samples, []).decode()
    got, values = read(exposition)
    assert got["gpu/n7/0"].attrs["uuid"] == "GPU-a" and got["gpu/n7/0"].parent == "node/n7"
    for ref, metric, value in samples:
        assert values[(ref, metric)] == pytest.approx(value)


def test_switch_counters_land_on_topology_ports_so_links_see_both_ends() -> None:
    from console.analysis.links import derive_link_util
    from console.collect.topology_file import parse_topology

    topology = parse_topology(
        "switches: [{name: leaf01, tier: leaf}]\nnodes: [{name: gpu001}]\n"
        "links: [{a: gpu001/mlx5_0:1, b: leaf01/p1, speed_gbps: 400}]\n",
        "topo.yaml",
    )
    snmp = ExporterSource("http://snmp:9116/snmp?target=leaf01&module=if_mib", 1.0,
                          select("snmp"), options={"port_match": r"Ethernet(\d+)/1",
                                                   "port_replace": r"p\1"})  # fmt: skip
    gnmi = ExporterSource("http://gnmic:9804/metrics", 1.0, select("gnmi"))
    store = Store()
    store.apply(Batch(entities=topology), "topology", 0.0)
    for now, octets in ((100.0, 0), (101.0, 25_000_000_000)):  # 200 Gb/s out of the switch
        text = (
            f'ifHCOutOctets{{ifAlias="to gpu001",ifDescr="Ethernet1/1",ifIndex="1",'
            f'ifName="Ethernet1/1"}} {octets}\nifHighSpeed{{ifName="Ethernet1/1"}} 400000\n'
        )
        store.apply(snmp.read(text, now), snmp.name, now)
        store.time = now
    derive_link_util(store)
    link = "link/gpu001/mlx5_0:1~leaf01/p1"
    assert store.value(link, "link.util_ba") == pytest.approx(50.0)  # switch → host
    assert store.get("port/leaf01/p1").attrs["alias"] == "to gpu001"  # type: ignore[union-attr]
    text = (
        'gnmic_interfaces_interface_state_counters_in_octets{interface_name="Ethernet1/1",'
        'source="spine01.example:6030",subscription_name="counters"} 42\n'
    )
    entities, values = read(text, 1.0, gnmi)
    assert values[("port/spine01/Ethernet1_1", "port.rx_bytes")] == 42
    assert entities["port/spine01/Ethernet1_1"].parent == "switch/spine01"


def test_remote_strings_are_plain_text() -> None:
    text = 'DCGM_FI_DEV_GPU_TEMP{gpu="0",Hostname="evil\\u001b]52;c;x",modelName="[red]x\\n"} 5\n'
    text = text.replace("\\u001b", "\x1b")
    entities, _ = read(text)
    (gpu,) = (e for e in entities.values() if e.kind == "gpu")
    assert "\x1b" not in gpu.ref and "\n" not in str(gpu.attrs["model"])


def test_an_exposition_no_table_knows_is_a_clear_failure() -> None:
    with pytest.raises(SourceError, match="none an exporter this source maps"):
        read("go_goroutines 12\n")


@pytest.mark.parametrize(("text", "name"), [("gpu001.example:9400", "gpu001"),
                         ("10.0.0.5:9100", "10.0.0.5"), ("[::1]:9100", "::1")])  # fmt: skip
def test_short_host_names(text: str, name: str) -> None:
    assert short_host(text) == name


series_names = st.sampled_from(
    [
        name
        for name in (
            "DCGM_FI_DEV_GPU_UTIL",
            "DCGM_FI_DEV_FB_USED",
            "DCGM_FI_DEV_XID_ERRORS",
            "node_network_receive_bytes_total",
            "node_infiniband_state_id",
            "node_cpu_seconds_total",
            "vllm:generation_tokens_total",
            "vllm:time_to_first_token_seconds_sum",
            "ifHCOutOctets",
            "gnmic_interfaces_interface_state_counters_out_octets",
            "watchfloor_gpu_util_percent",
            "node_uname_info",
        )
    ]
)
label_keys = st.sampled_from(
    [
        "gpu",
        "UUID",
        "Hostname",
        "GPU_I_ID",
        "device",
        "port",
        "mode",
        "instance",
        "model_name",
        "ifName",
        "node",
        "ref",
        "nodename",
    ]
)
label_values = st.text(max_size=10) | st.sampled_from(["0", "lo", "gpu/x/1", "a:b", ""])
number = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([9.3e18, 2147483640.0])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(series_names, st.dictionaries(label_keys, label_values, max_size=5),
                          number), max_size=12))  # fmt: skip
def test_mapping_any_series_never_crashes(series: list[tuple[str, dict[str, str], float]]) -> None:
    scope = Scope(time=1.0, default_node="n", options={"port_match": "(x)", "port_replace": "y"})
    out = Builder()
    map_series(series, list(TABLES.values()), scope, out)
    map_series(series, list(TABLES.values()), scope, out)
    for entity in out.entities.values():
        assert entity.ref.split("/")[0] in {"node", "gpu", "port", "switch", "job", "link",
                                            "event", "path"}  # fmt: skip
    for value in out.values.values():
        assert value is None or isinstance(value, float | int) or math.isnan(value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_reading_any_text_fails_only_with_a_reason(text: str) -> None:
    try:
        read(text)
    except SourceError as exc:
        assert str(exc)
    except ExpositionError:  # pragma: no cover - read() wraps these
        raise AssertionError("ExpositionError escaped") from None
    assert parse  # the reader under test


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_non_finite_xid_is_not_available_not_a_crash(value: float) -> None:
    # found by test_mapping_any_series_never_crashes: int(-inf) raised OverflowError
    builder = Builder()
    map_series([("DCGM_FI_DEV_XID_ERRORS", {"gpu": "0", "Hostname": "n1"}, value)],
               select("dcgm"), Scope(time=1.0), builder)  # fmt: skip
    assert builder.values[("gpu/n1/0", "gpu.xid")] is None


def test_a_file_without_a_node_name_is_its_own_node_not_this_machine() -> None:
    text = fixture("node_exporter/e2e-output-infiniband-netdev-hwmon-rapl.txt")
    source = ExporterSource("file:///var/lib/exports/ib07.prom", 1.0, select("node"))
    entities, _ = read(text, source=source)
    assert {e.parent for e in entities.values() if e.kind == "port"} == {"node/ib07"}
    # Named in the config, it is that node.
    entities, _ = read(text, node="gpu01")
    assert "port/gpu01/mlx4_0:1" in entities


def _query_gpu_csv(capture: str, phase: str) -> dict[str, str]:
    """The ``--query-gpu`` CSV row nvidia_gpu_exporter parsed, from its own capture."""
    lines = capture.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"# {phase} :: query-gpu"))
    header, row = [line for line in lines[start : start + 12] if line and line[0] != "#"][:2]
    return dict(zip([h.strip() for h in header.split(",")], [v.strip() for v in row.split(",")],
                    strict=True))  # fmt: skip


def test_nvidia_gpu_exporter_h100_maps_what_nvidia_smi_reported() -> None:
    text = fixture("nvidia_gpu_exporter/h100-80gb-hbm3-590.48.01-load-excerpt.metrics")
    entities, values = read(text, node="h100a")
    gpu = "gpu/h100a/0"
    assert [r for r in entities if r.startswith("gpu/")] == [gpu]
    assert entities[gpu].parent == "node/h100a"
    csv = _query_gpu_csv(fixture("nvidia-smi/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt"),
                         "load")  # fmt: skip
    number = lambda key: float(csv[key].split()[0])  # noqa: E731 - "19818 MiB" → 19818
    assert values[(gpu, "gpu.util")] == number("utilization.gpu [%]") == 100
    assert values[(gpu, "gpu.mem_util")] == pytest.approx(number("utilization.memory [%]"))
    assert values[(gpu, "gpu.mem_used")] == number("memory.used [MiB]") == 19818
    assert values[(gpu, "gpu.mem_total")] == number("memory.total [MiB]")
    assert values[(gpu, "gpu.temp")] == number("temperature.gpu") == 59
    assert values[(gpu, "gpu.power")] == number("power.draw [W]") == 631.95
    assert values[(gpu, "gpu.power_limit")] == number("enforced.power.limit [W]")
    assert values[(gpu, "gpu.sm_clock")] == pytest.approx(number("clocks.current.sm [MHz]"))
    assert values[(gpu, "gpu.mem_clock")] == pytest.approx(number("clocks.current.memory [MHz]"))
    assert values[(gpu, "gpu.ecc_uncorrected_volatile")] == 0
    attrs = entities[gpu].attrs
    assert (attrs["model"], attrs["driver"], attrs["pstate"]) == (
        csv["name"], csv["driver_version"], csv["pstate"]
    )  # fmt: skip
    assert attrs["uuid"] == "00000000-0000-0000-0000-000000000000" and attrs["health"] == "ok"
    assert attrs["throttled"] is False


def test_nvidia_gpu_exporter_without_gpu_info_and_what_it_does_not_map() -> None:
    uuid = 'uuid="GPU-1"'
    text = (
        f"nvidia_smi_index{{{uuid}}} 3\nnvidia_smi_utilization_gpu_ratio{{{uuid}}} 0.5\n"
        f"nvidia_smi_gpu_recovery_action{{{uuid}}} 2\nnvidia_smi_command_exit_code 0\n"
    )
    entities, values = read(text, node="n1")
    assert values[("gpu/n1/3", "gpu.util")] == 50
    assert entities["gpu/n1/3"].attrs["health"] == "driver asks for node reboot"
    # Only the exporter's own health series: the source says it maps none of them.
    with pytest.raises(SourceError, match=r"1 samples, none an exporter this source maps "
                                          r"\(dcgm, nvidia-smi, node"):  # fmt: skip
        read("nvidia_smi_command_exit_code 0\n", node="n1")
