"""The detection core's interfaces: where per-key state lives, and the partition scopes.

The detector reads and writes per-key state through :class:`StateStore`: a plain ``dict`` in
``replay``, the buffered view of a changelog-backed table in the worker (``streams.state.BufferedState``).
A value is the key's declared schema (``streams.state.schema``: ``IpState``, ``ExtState``,
``TrunkState``, ``TenantState``, msgspec structs with a version tag), which the worker's changelog
codec encodes; the detector writes a key back after a rule changed it, so the worker knows what to
flush at its next commit.
"""

from __future__ import annotations

from typing import Any, Iterator, Protocol, runtime_checkable


@runtime_checkable
class StateStore(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def __setitem__(self, key: str, value: Any) -> None: ...
    def __delitem__(self, key: str) -> None: ...
    def __contains__(self, key: object) -> bool: ...
    def keys(self) -> Iterator[str]: ...


SCOPES = ("ip", "ext", "trunk", "tenant")
"""Partition scopes: rules of one scope read and write only the state of that scope's key."""
