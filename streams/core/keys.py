"""The one spelling of a state key: ``<scope>:<what>`` (docs/stream.md "Partitioning").

- ``ip:<address>``           the network rules, across tenants;
- ``ext:<tenant>/<ext>``     an extension's (or account's) calls and registrations;
- ``trunk:<tenant>/<trunk>`` a trunk's concurrency;
- ``tenant:<tenant>``        what is counted across a tenant.

The core routes events by these keys, the worker partitions state by them, ``simulate`` labels
attacks with them and ``evaluate`` matches detections to the labels through them.
"""

from __future__ import annotations


def ip(address: str) -> str:
    return f"ip:{address}"


def ext(tenant: str, extension: str) -> str:
    return f"ext:{tenant}/{extension}"


def trunk(tenant: str, name: str) -> str:
    return f"trunk:{tenant}/{name}"


def tenant(name: str) -> str:
    return f"tenant:{name}"


def scope_of(key: str) -> str:
    return key.split(":", 1)[0]


def split(key: str) -> tuple[str, str]:
    """(scope, the rest): ``ext:acme/1001`` -> (``ext``, ``acme/1001``)."""
    scope, rest = key.split(":", 1)
    return scope, rest


def tenant_in(key: str) -> str | None:
    """The tenant an ``ext``, ``trunk`` or ``tenant`` key names (an IP is shared by tenants: None)."""
    scope, rest = split(key)
    if scope == "ip":
        return None
    return rest if scope == "tenant" else rest.split("/", 1)[0]
