"""The Host allowlist shared by every listener (watch's /metrics, serve)."""

from __future__ import annotations

import pytest

from console.core.host_check import host_name, loopback_only


@pytest.mark.parametrize(
    ("header", "name"),
    [("LocalHost:9000", "localhost"), ("[::1]:80", "::1"), ("::1", "::1"), ("a.b", "a.b")],
)
def test_host_name_drops_port_brackets_and_case(header: str, name: str) -> None:
    assert host_name(header) == name


def test_a_loopback_listener_answers_loopback_names_and_its_own_address() -> None:
    names = loopback_only("127.0.0.2")
    assert names is not None
    assert {"localhost", "127.0.0.1", "::1", "127.0.0.2"} <= names
    assert "evil.example" not in names
    assert loopback_only("[::1]") is not None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "gpu001.example"])
def test_a_listener_on_a_real_interface_takes_any_name(host: str) -> None:
    assert loopback_only(host) is None
