"""What one channel sends, and when: routing, dedupe, the opening message, digests, the storm cap.

- An incident's first version (``version`` 1, or the first that passes the channel's filters after
  earlier ones did not, e.g. a warning that became critical) is sent at once as ``opened``.
- Later versions wait in the incident's digest: at most one digest per incident per
  ``digest_seconds`` (the first one ``min(digest_seconds, 10)`` s after its first update when this
  run sent nothing for the incident yet).
- At most ``max_per_minute`` messages leave in any 60 s. What is over the cap is *folded*: kept,
  counted, and sent as one ``storm`` message in the next free slot, ahead of anything newer.
- A record whose (incident_id, version), or alert_id, was already taken is not sent again.

Single-threaded: one :class:`Pacer` belongs to one channel worker thread.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable

from streams.services.notify import render
from streams.services.notify.render import Message
from streams.services.notify.settings import RANK

GRACE = 10.0
WINDOW = 60.0
REMEMBER = 200_000  # keys kept for dedupe per channel; the oldest are forgotten first


class Recent:
    """A bounded insertion-ordered map (dedupe sets that cannot grow without end)."""

    def __init__(self, cap: int = REMEMBER):
        self.cap, self._d = cap, OrderedDict()

    def put(self, key, value=True) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        if len(self._d) > self.cap:
            self._d.popitem(last=False)

    def get(self, key, default=None):
        return self._d.get(key, default)

    def discard(self, key) -> None:
        self._d.pop(key, None)

    def __contains__(self, key) -> bool:
        return key in self._d


class Route:
    """The channel's filters: record kind, minimum severity, tenants, rules."""

    def __init__(self, c):
        self.kinds = {"incidents": "incident", "alerts": "alert"}
        self.types = {self.kinds[r] for r in c.records}
        self.min_rank = RANK[c.min_severity]
        self.tenants = set(c.tenants) if c.tenants else None
        self.rules = set(c.rules) if c.rules else None

    def matches(self, rec: dict) -> bool:
        if rec.get("type") not in self.types:
            return False
        if RANK.get(rec.get("severity"), -1) < self.min_rank:
            return False
        if self.tenants is not None and rec.get("tenant") not in self.tenants:
            return False
        return self.rules is None or bool(self.rules.intersection(render.rules_of(rec)))


@dataclass
class Pending:
    first: float
    records: list = field(default_factory=list)
    refs: list = field(default_factory=list)


class Pacer:
    def __init__(self, c, clock: Callable[[], float] = time.monotonic, on_fold: Callable[[int], None] = lambda n: None):
        self.c, self.clock, self.on_fold = c, clock, on_fold
        self.route = Route(c)
        self.seen, self.sent_at, self.filtered = Recent(), Recent(), Recent()
        self.told = Recent()  # incident id -> the severity rank the channel was last told
        self.ready: deque[Message] = deque()
        self.pending: dict[str, Pending] = {}
        self.folded: list[Message] = []
        self.window: deque[float] = deque()

    # -- records in ---------------------------------------------------------------------------
    def offer(self, rec: dict, ref, replay: bool = False) -> list:
        """Take a record; return the refs that are finished already (filtered, duplicate, replayed)."""
        if not self.route.matches(rec):
            if rec.get("type") == "incident":
                self.filtered.put(str(rec.get("incident_id")))
            return [ref]
        if rec.get("type") == "alert":
            return self._alert(rec, ref, replay)
        iid, key = str(rec.get("incident_id")), (str(rec.get("incident_id")), rec.get("version"))
        if key in self.seen:
            return [ref]
        self.seen.put(key)
        rank = RANK.get(rec.get("severity"), -1)
        if replay:  # delivered by an earlier run (the commit metadata says so): remember, do not send
            self.sent_at.put(iid, self.sent_at.get(iid))
            self.told.put(iid, max(rank, self.told.get(iid, -1)))
            return [ref]
        if iid not in self.sent_at and (rec.get("version") == 1 or iid in self.filtered):
            self.filtered.discard(iid)
            self.sent_at.put(iid, None)
            self.told.put(iid, rank)
            self.ready.append(self._with(render.opened(rec), ref))
            return []
        told = self.told.get(iid)
        if told is not None and rank > told:  # worse than the channel knows: now, not in the next digest
            p = self.pending.pop(iid, None)
            was = next((s for s, r in RANK.items() if r == told), "information")
            m = render.escalated(rec, was, p.records if p else [])
            m.refs = (p.refs if p else []) + [ref]
            self.told.put(iid, rank)
            self.ready.append(m)
            return []
        p = self.pending.setdefault(iid, Pending(self.clock()))
        p.records.append(rec)
        p.refs.append(ref)
        return []

    def _alert(self, rec: dict, ref, replay: bool) -> list:
        key = ("alert", str(rec.get("alert_id")))
        if key in self.seen or replay:
            self.seen.put(key)
            return [ref]
        self.seen.put(key)
        self.ready.append(self._with(render.alert(rec), ref))
        return []

    @staticmethod
    def _with(m: Message, ref) -> Message:
        m.refs = [ref]
        return m

    # -- messages out -------------------------------------------------------------------------
    def due(self) -> list[Message]:
        """The messages to send now; what the cap does not allow is folded into the next storm."""
        now = self.clock()
        for iid in [i for i, p in self.pending.items() if now >= self._due(i, p)]:
            p = self.pending.pop(iid)
            m = render.digest(p.records)
            m.refs = p.refs
            self.ready.append(m)
        while self.window and now - self.window[0] >= WINDOW:
            self.window.popleft()
        out = []
        if self.folded and self._room():
            out.append(self._reserve(render.storm(self.c.name, self.folded), now))
            self.folded = []
        while self.ready:
            m = self.ready.popleft()
            if self._room() and not self.folded:
                out.append(self._reserve(m, now))
            else:
                self.folded.append(m)
                self.on_fold(1)
        return out

    def done(self, m: Message) -> None:
        """``m`` was delivered or parked: its incidents' digest clocks start now."""
        now = self.clock()
        for part in (m.items or [m]):
            if part.incident_id:
                self.sent_at.put(part.incident_id, now)

    def has_work(self) -> bool:
        now = self.clock()
        return bool(self.ready or self.folded) or any(now >= self._due(i, p) for i, p in self.pending.items())

    def next_wake(self, cap: float = 1.0) -> float:
        """Seconds until a digest falls due or a folded storm may go (at most ``cap``)."""
        now, wake = self.clock(), cap
        for i, p in self.pending.items():
            wake = min(wake, self._due(i, p) - now)
        if self.folded and self.window:
            wake = min(wake, self.window[0] + WINDOW - now)
        return max(0.0, wake)

    def _due(self, iid: str, p: Pending) -> float:
        last = self.sent_at.get(iid)
        ds = self.c.digest_seconds
        return last + ds if last is not None else p.first + min(ds, GRACE)

    def _room(self) -> bool:
        return len(self.window) < self.c.max_per_minute

    def _reserve(self, m: Message, now: float) -> Message:
        self.window.append(now)
        return m
