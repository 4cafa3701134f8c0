"""The life of a key: written while it holds something, forgotten once it no longer matters, and
evicted oldest-first when a scope holds more keys than its budget.

The detection core asks this object to write each key it touched. A key that holds nothing is not
written (a LAN phone's successful registration leaves no trace). Every written key is indexed by
the event time after which it stops mattering (``expiry``), per tenant and scope; when a tenant's
event time passes that, the key is deleted (the worker turns the deletion into a changelog
tombstone). A flood of distinct keys (1M spoofed source IPs) then costs memory only while its
windows last, and never more than ``max_keys`` per scope: beyond it the key whose state expires
first is evicted, and counted.
"""

from __future__ import annotations

import heapq
import math

from streams.state.expiry import expiry
from streams.core.types import SCOPES
from streams.state.schema import EMPTY

BUCKET = 900.0  # expiry instants are rounded up to this, so a busy key is re-indexed at most once per bucket
MAX_KEYS = 200_000  # per scope, per detector (a worker splits its budget over the scope partitions it runs)


class KeyLifecycle:
    def __init__(self, max_keys: int | None = MAX_KEYS):
        self.max_keys = max_keys
        self._until: dict[str, tuple[float, str]] = {}       # key -> (expiry bucket, tenant)
        self._heaps: dict[tuple[str, str], list] = {}         # (tenant, scope) -> heap of (bucket, last, key)
        self.counts: dict[str, int] = {s: 0 for s in SCOPES}
        self._tenants: dict = {}                               # tenant name -> its compiled policy (for re-indexing)
        self.expired = 0
        self.evicted = 0

    def write(self, state, key: str, scope: str, st, tenant, ts: float) -> None:
        """Store ``st`` under ``key`` (a new key only when it holds something) and index its expiry.

        A key already indexed is not re-indexed on every write: when its indexed instant comes, its
        expiry is computed again from its state (``expire``, ``_evict``), and it is deleted only if
        that, too, has passed. So the index is never late to keep a key, only early to look at it.
        """
        last = st.last
        if key not in self._until:
            st.last = None
            if st == EMPTY[scope]:
                st.last = last
                return
        st.last = ts if last is None or ts > last else last
        state[key] = st
        if key not in self._until:
            self._index(key, scope, st, tenant)
            if self.max_keys is not None and self.counts[scope] > self.max_keys:
                self._evict(state, scope)

    def _bucket(self, st, tenant, scope: str) -> float:
        return math.ceil(expiry(st, tenant.retention[scope]) / BUCKET) * BUCKET

    def _index(self, key: str, scope: str, st, tenant) -> None:
        bucket = self._bucket(st, tenant, scope)
        cur = self._until.get(key)
        if cur is None:
            self.counts[scope] += 1
        elif cur == (bucket, tenant.name):
            return
        self._until[key] = (bucket, tenant.name)
        self._tenants[tenant.name] = tenant
        heapq.heappush(self._heaps.setdefault((tenant.name, scope), []), (bucket, st.last or 0.0, key))

    def _forget(self, key: str, scope: str) -> None:
        if self._until.pop(key, None) is not None:
            self.counts[scope] -= 1

    def expire(self, state, tenant, limit: float) -> int:
        """Delete the tenant's keys whose state stopped mattering before event time ``limit``."""
        n = 0
        for scope in SCOPES:
            heap = self._heaps.get((tenant.name, scope))
            while heap and heap[0][0] < limit:
                bucket, _, key = heapq.heappop(heap)
                if self._until.get(key) != (bucket, tenant.name):
                    continue  # re-indexed later, or gone
                st = state.get(key)
                if st is None:
                    self._forget(key, scope)
                elif self._bucket(st, tenant, scope) < limit:
                    del state[key]
                    self._forget(key, scope)
                    n += 1
                else:
                    del self._until[key]
                    self.counts[scope] -= 1
                    self._index(key, scope, st, tenant)
        self.expired += n
        return n

    def _evict(self, state, scope: str) -> None:
        """Over budget: forget the key of this scope whose state expires first, whatever its tenant.
        A candidate whose state was touched since it was indexed is re-indexed, not evicted."""
        while self.counts[scope] > self.max_keys:
            best = None
            for (tenant, s), heap in self._heaps.items():
                if s != scope:
                    continue
                while heap and self._until.get(heap[0][2]) != (heap[0][0], tenant):
                    heapq.heappop(heap)  # stale entries
                if heap and (best is None or heap[0] < best[0]):
                    best = (heap[0], heap, tenant)
            if best is None:
                return
            (bucket, _, key), heap, tenant_name = best
            heapq.heappop(heap)
            st = state.get(key)
            if st is None:
                self._forget(key, scope)
                continue
            tenant = self._tenants.get(tenant_name)
            if tenant is not None and self._bucket(st, tenant, scope) > bucket:
                del self._until[key]
                self.counts[scope] -= 1
                self._index(key, scope, st, tenant)
                continue
            del state[key]
            self._forget(key, scope)
            self.evicted += 1

    def rebuild(self, state, key: str, scope: str, st, tenant) -> None:
        """Index a key found in state after a restart (its state came back from the changelog)."""
        if key not in self._until:
            self._index(key, scope, st, tenant)

    def __len__(self) -> int:
        return len(self._until)
