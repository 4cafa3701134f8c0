"""docker-compose.yml is a lab setup: Kafka without authentication and /metrics over plain HTTP, so every
port it publishes must bind the host's loopback only, never 0.0.0.0 (issue 25.8). Parsed as YAML, no
Docker needed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


def host_ip(port) -> str | None:
    """The host address a compose port entry binds, None when it binds every interface.

    Short syntax: ``CONTAINER``, ``HOST:CONTAINER`` or ``IP:HOST:CONTAINER`` (an optional ``/proto``; an
    IPv6 address in brackets); long syntax: a mapping with ``host_ip``."""
    if isinstance(port, dict):
        return port.get("host_ip")
    spec = str(port).split("/", 1)[0]
    if spec.startswith("["):
        return spec[1:spec.index("]")]
    parts = spec.split(":")
    return parts[0] if len(parts) == 3 else None


@pytest.mark.parametrize("entry,ip", [("9092:9092", None), ("9092", None), ("127.0.0.1:9092:9092", "127.0.0.1"),
                                      ("0.0.0.0:9300:9300/tcp", "0.0.0.0"), ("[::1]:80:80", "::1"),
                                      ({"target": 80, "published": 80}, None),
                                      ({"target": 80, "host_ip": "127.0.0.1"}, "127.0.0.1")])
def test_host_ip_reads_every_port_syntax(entry, ip):
    assert host_ip(entry) == ip


def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]     # merge keys (<<: *tollguard) resolved


def test_every_published_port_binds_loopback_only():
    published = {name: svc.get("ports") or [] for name, svc in services().items()}
    assert published["kafka"] and published["worker"]          # the test sees the ports it is about
    wide = {f"{name}: {p}" for name, ports in published.items() for p in ports if host_ip(p) != "127.0.0.1"}
    assert not wide, f"{COMPOSE.name} publishes beyond 127.0.0.1: {sorted(wide)}"


def test_no_service_shares_the_host_network():
    """network_mode: host would put Kafka and /metrics on every host interface, ports or not."""
    assert not [n for n, s in services().items() if s.get("network_mode") == "host"]


def test_the_file_says_it_is_not_for_production():
    head = COMPOSE.read_text().split("services:", 1)[0].lower()
    assert "not for production" in head and "unauthenticated" in head and "docs/" in head
