"""The blocks in force, kept up to date from ``<prefix>.actions`` (the worker's and the SOC's actions).

:class:`LiveBlocks` folds one action at a time (as ``tollguard blocks`` folds the whole topic): a
block is in force until it ends or an ``unblock`` of its tenant and target lifts it. The verdict
asks it three questions: is this address blocked (for this tenant or, the global blocklist, for
any), is this extension barred or its account locked (wholly, or for the caller's source address: a
``lock_account`` with ``from_ip`` locks the account only for that source, as the guide's "Blocked IPs"
table does, so a scanner's lock never bars the LAN's phone), is this number or one of its prefixes blocked.
Memory is bounded: expired blocks are dropped as they are met, and past ``MAX_BLOCKS`` the ones
that end first go.
"""

from __future__ import annotations

import heapq
from collections import defaultdict

from streams.services.enforce.action import BLOCK_KINDS, Action
from streams.domain.events import canonical_ip

MAX_BLOCKS = 1_000_000
FOREVER = float("inf")


class LiveBlocks:
    def __init__(self):
        self.until: dict[tuple[str, str, str], float] = {}   # (tenant, kind, target) -> end (inf: until lifted)
        self.ips: dict[str, set[str]] = defaultdict(set)      # address -> tenants that blocked it
        self.numbers: dict[str, set[str]] = defaultdict(set)  # tenant -> blocked numbers and prefixes
        self.sources: dict[tuple[str, str], set[str]] = defaultdict(set)  # (tenant, account) -> lock keys for a source
        self._ends: list[tuple[float, tuple]] = []
        self._ids: dict[str, None] = {}
        self.applied = 0

    def apply(self, a: Action) -> None:
        if a.action_id in self._ids:
            return
        self._ids[a.action_id] = None
        if len(self._ids) > 2 * MAX_BLOCKS:
            for k in list(self._ids)[:MAX_BLOCKS]:
                del self._ids[k]
        self.applied += 1
        if a.kind == "unblock":
            for kind in BLOCK_KINDS:
                self._drop((a.tenant, kind, self._target(kind, a.target)))
            for target in list(self.sources.get((a.tenant, a.target), ())):  # every source lock of the account
                self._drop((a.tenant, "lock_account", target))
            return
        if a.kind not in BLOCK_KINDS:
            return
        key = (a.tenant, a.kind, self._target(a.kind, a.target, a.from_ip))
        end = FOREVER if a.until is None else a.until
        if end <= self.until.get(key, float("-inf")):
            return
        self.until[key] = end
        heapq.heappush(self._ends, (end, key))
        if a.kind == "block_ip":
            self.ips[key[2]].add(a.tenant)
        elif a.kind == "block_number":
            self.numbers[a.tenant].add(key[2])
        elif a.from_ip is not None:
            self.sources[(a.tenant, a.target)].add(key[2])
        if len(self.until) > MAX_BLOCKS:
            self._drop(heapq.heappop(self._ends)[1])

    @staticmethod
    def _target(kind: str, target: str, from_ip: str | None = None) -> str:
        if kind == "block_ip":
            return _canonical(target)
        if kind == "lock_account" and from_ip is not None:
            return _source_lock(target, _canonical(from_ip))
        return target

    def _drop(self, key: tuple) -> None:
        if self.until.pop(key, None) is None:
            return
        tenant, kind, target = key
        if kind == "block_ip":
            self.ips[target].discard(tenant)
            if not self.ips[target]:
                del self.ips[target]
        elif kind == "block_number":
            self.numbers[tenant].discard(target)
        elif kind == "lock_account" and SOURCE in target:
            account = target.split(SOURCE, 1)[0]
            self.sources[(tenant, account)].discard(target)
            if not self.sources[(tenant, account)]:
                del self.sources[(tenant, account)]

    def expire(self, now: float) -> None:
        while self._ends and self._ends[0][0] <= now:
            end, key = heapq.heappop(self._ends)
            if self.until.get(key) == end:
                self._drop(key)

    def _active(self, key: tuple, now: float) -> bool:
        end = self.until.get(key)
        return end is not None and end > now

    def ip_blocked(self, tenant: str, ip: str, now: float) -> str | None:
        """Who blocked this address: this tenant, else another (the global blocklist), else None."""
        tenants = self.ips.get(ip)
        if not tenants:
            return None
        if tenant in tenants and self._active((tenant, "block_ip", ip), now):
            return tenant
        return next((t for t in sorted(tenants) if self._active((t, "block_ip", ip), now)), None)

    def barred(self, tenant: str, ext: str, now: float, ip: str | None = None) -> str | None:
        """``disable_outbound``, ``lock_account`` (the whole account, or for ``ip``, the caller's source) or None."""
        if self._active((tenant, "disable_outbound", ext), now):
            return "disable_outbound"
        account = f"{tenant}/{ext}"
        if self._active((tenant, "lock_account", account), now):
            return "lock_account"
        if ip is not None and self._active((tenant, "lock_account", _source_lock(account, _canonical(ip))), now):
            return "lock_account"
        return None

    def number_blocked(self, tenant: str, numbers: tuple[str, ...], now: float) -> str | None:
        """The blocked number or prefix (``+371``) that one of these spellings of the dialled number starts with."""
        blocked = self.numbers.get(tenant)
        if not blocked:
            return None
        for number in numbers:
            for i in range(2, min(len(number), 32) + 1):
                if number[:i] in blocked and self._active((tenant, "block_number", number[:i]), now):
                    return number[:i]
        return None


SOURCE = " from "  # a source lock's key: "<tenant>/<ext> from <address>"


def _source_lock(account: str, ip: str) -> str:
    return f"{account}{SOURCE}{ip}"


def _canonical(ip: str) -> str:
    try:
        return canonical_ip(ip)
    except ValueError:
        return ip
