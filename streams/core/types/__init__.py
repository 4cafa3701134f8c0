"""Interfaces of the detection core (as faust keeps its in ``faust/types``).

The core reads and writes per-key state through :class:`StateStore`: a plain ``dict``
satisfies it in ``replay``, a Faust table satisfies it in the worker. Values are
JSON-compatible builtins (dicts, lists, numbers, strings), so any changelog codec can carry
them; a rule must write a key back (``store[key] = value``) after changing it, which is
what makes a Faust table record the change.
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
