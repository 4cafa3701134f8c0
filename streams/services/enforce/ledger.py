"""What has been carried out, so an action is applied once per backend, across restarts too.

Two tables, kept in memory and, with a state file, written after every change (atomically: a
temporary file renamed over the old one):

- *applied*: ``(backend, action_id) → until``. An entry whose block has ended is dropped when the
  file is written (a re-delivered action that old is expired anyway); beyond ``cap`` entries the
  oldest go.
- *extents*: ``(tenant, kind, target) → until``: the farthest end of the blocks seen on a target,
  so a later, shorter block does not shorten a longer one (``nft add element`` replaces the
  timeout). A lock for one source is its own target (``"1001 from 203.0.113.9"``). An ``unblock``
  of the tenant's target clears them, the per-source ones too.

Without a state file the offsets committed after applying are what prevents repeats; a crash
between applying and committing may then repeat an action, which every backend tolerates
(``add element`` and ``banip`` are idempotent; scripts and APIs get the action id).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from streams.kafka.config import ConfigError

log = logging.getLogger("tollguard.enforce")


def _later(a: float | None, b: float | None) -> float | None:
    """The farther of two ends; None (until lifted) is farthest."""
    if a is None or b is None:
        return None
    return max(a, b)


class Ledger:
    def __init__(self, path: str | None = None, cap: int = 100_000):
        self.path, self.cap = path, cap
        self.applied: dict[tuple[str, str], float | None] = {}
        self.extents: dict[tuple[str, str, str], float | None] = {}
        if path and Path(path).exists():
            self._load()

    def done(self, backend: str, action_id: str) -> bool:
        return (backend, action_id) in self.applied

    def record(self, backend: str, action_id: str, until: float | None, now: float) -> None:
        self.applied[(backend, action_id)] = until
        self.save(now)

    def extend(self, tenant: str, kind: str, target: str, until: float | None, now: float) -> float | None:
        """Note a block to ``until``; return the farthest end known for that target (ended ones forgotten)."""
        key = (tenant, kind, target)
        known = self.extents.get(key, now)
        if known is not None and known <= now:
            known = until
        self.extents[key] = end = _later(known, until)
        return end

    def lift(self, tenant: str, target: str) -> None:
        for key in [k for k in self.extents if k[0] == tenant and k[2].split(" from ", 1)[0] == target]:
            del self.extents[key]

    def prune(self, now: float) -> None:
        self.applied = {k: u for k, u in self.applied.items() if u is None or u > now}
        self.extents = {k: u for k, u in self.extents.items() if u is None or u > now}
        for table in (self.applied, self.extents):
            for key in list(table)[:max(0, len(table) - self.cap)]:  # insertion order: oldest first
                del table[key]

    def save(self, now: float) -> None:
        if not self.path:
            return
        self.prune(now)
        data = {"version": 1, "applied": [[*k, u] for k, u in self.applied.items()],
                "extents": [[*k, u] for k, u in self.extents.items()]}
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _load(self) -> None:
        try:
            data = json.loads(Path(self.path).read_text())
            self.applied = {(b, a): u for b, a, u in data["applied"]}
            self.extents = {(t, k, g): u for t, k, g, u in data["extents"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"state file {self.path} is unreadable ({type(exc).__name__}); "
                              "move it away to start afresh (offsets committed on Kafka still prevent most repeats)"
                              ) from None
        log.info("state: %d applied action(s), %d extent(s) from %s", len(self.applied), len(self.extents), self.path)
