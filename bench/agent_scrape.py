"""Agent cost per scrape next to Prometheus node_exporter's, in the same run (figure b).

Both serve this machine on loopback; each is scraped sequentially; the CPU each
server process spent is read with psutil and divided by the scrapes. The agent
runs with a tiny interval so that every scrape pays for a full collection, as
node_exporter's does. Target: <= 0.5x node_exporter per scrape, agent RSS < 60 MB.

Needs Debian's ``prometheus-node-exporter``.
Run: ``.venv/bin/python bench/agent_scrape.py [--scrapes 300]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import urllib.request

import psutil

sys.path.insert(0, "tests/integration")


def cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def scrape(url: str, count: int) -> int:
    size = 0
    for _ in range(count):
        with urllib.request.urlopen(url, timeout=10) as response:
            size = len(response.read())
    return size


def measure(pid: int, url: str, count: int) -> tuple[float, int]:
    scrape(url, 5)  # warm
    before = cpu(pid)
    size = scrape(url, count)
    return (cpu(pid) - before) / count * 1000, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scrapes", type=int, default=300)
    args = parser.parse_args()
    exporter_bin = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if exporter_bin is None:
        sys.exit("install Debian's prometheus-node-exporter first")
    from agents import free_port, start_agent  # type: ignore[import-not-found]

    agent, agent_url = start_agent("--listen", "127.0.0.1:0", "--interval", "0.001")
    port = free_port()
    exporter = subprocess.Popen(
        [exporter_bin, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    exporter_url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                scrape(exporter_url, 1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # waiting for node_exporter to listen
        results = {
            "agent /metrics": measure(agent.pid, f"{agent_url}/metrics", args.scrapes),
            "agent /v1/snapshot": measure(agent.pid, f"{agent_url}/v1/snapshot", args.scrapes),
            "node_exporter /metrics": measure(exporter.pid, exporter_url, args.scrapes),
        }
        rss = psutil.Process(agent.pid).memory_info().rss / 2**20
    finally:
        for process in (agent, exporter):
            process.terminate()
            process.wait()
    base = results["node_exporter /metrics"][0]
    print(f"CPU per scrape over {args.scrapes} sequential scrapes (each a full collection):")
    for name, (ms, size) in results.items():
        ratio = ms / base
        print(f"  {name:<24} {ms:6.2f} ms CPU {size / 1024:7.1f} KiB ({ratio:.2f}x node_exporter)")
    print(f"  agent RSS {rss:.0f} MB (target < 60 MB)")


if __name__ == "__main__":
    main()
