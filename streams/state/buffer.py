"""A state store that holds writes until the shell says the event they record is safely done."""

from __future__ import annotations

from typing import Any, Iterator

_MISSING = object()


class BufferedState:
    """Holds writes until ``flush()``: the worker sends an event's alerts, waits for Kafka to
    acknowledge them, and only then writes the state that records the event as done. A crash in
    between repeats the event (same alert ids) instead of losing its alerts."""

    def __init__(self, store: Any):
        self.store = store
        self._pending: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        v = self._pending.get(key, _MISSING)
        if v is not _MISSING:
            return default if v is None else v
        return self.store.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self._pending[key] = value

    def __delitem__(self, key: str) -> None:
        self._pending[key] = None

    def __contains__(self, key: object) -> bool:
        if key in self._pending:
            return self._pending[key] is not None
        return key in self.store

    def keys(self) -> Iterator[str]:
        seen = set()
        for k, v in self._pending.items():
            seen.add(k)
            if v is not None:
                yield k
        for k in list(self.store.keys()):
            if k not in seen:
                yield k

    def commit(self) -> list[tuple[str, Any]]:
        """Write what is pending to the store (None deletes) and return it, once per key, as the
        ``(key, value or None)`` pairs a changelog records."""
        changes = list(self._pending.items())
        self.flush()
        return changes

    def flush(self, write=None) -> int:
        """Write what is pending, once per key; ``write(key, value_or_None)`` replaces plain item writes."""
        n = len(self._pending)
        for k, v in self._pending.items():
            if write is not None:
                write(k, v)
            elif v is None:
                self.store.pop(k, None)
            else:
                self.store[k] = v
        self._pending.clear()
        return n
