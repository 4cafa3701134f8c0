"""The worker's one way out for detections: alerts, detections, incidents, actions and the blocklist (no Faust here).

A scope sends each alert to ``<prefix>.alerts`` (key: subject) and each detection, with the
actions it orders, to ``<prefix>.detections`` (key: tenant and subject, or the campaign it folds into,
``incidents.incident_key``),
where the incident stage folds it. The incident stage sends incident updates to the compacted
``<prefix>.incidents`` (key: incident id) and the actions its incidents did not already order to
``<prefix>.actions`` (key: target); a block also goes to the compacted ``<prefix>.blocklist``.
A range a rule found (a Wangiri burst's, in the alert's evidence ``range``) is listed on the
compacted ``<prefix>.ranges`` (key: the prefix) for the verdict, enforcers and other tools; rules
never judge by these listings (``streams.reference.ranges``: derived ranges), so replay and worker agree.

``send`` hands records to a producer function and returns what to await; the commit protocol
awaits it before it writes the state that records the work as done.
"""

from __future__ import annotations

import json
from typing import Awaitable, Callable

from streams.domain.events import Action, Alert, encode
from streams.domain.incidents import IncidentRecord, Lifted, Seen, incident_key, subject_key
from streams.reference.ranges import derived_range

DETECTIONS_BYTES = 128 * 1024  # a record of detections is cut at this size (Kafka's limit is 1 MB)
Send = Callable[[str, bytes | None, bytes | None, int | None], Awaitable]


class Emitter:
    def __init__(self, send: Send, alerts: str, actions: str, blocklist: str, detections: str = "", incidents: str = "",
                 observe: Callable[[list], None] | None = None, ranges: str = ""):
        self._send = send
        self._observe = observe  # told of every batch of records sent (the worker's metrics)
        self.alerts, self.actions, self.blocklist = alerts, actions, blocklist
        self.detections, self.incidents, self.ranges = detections, incidents, ranges

    async def send(self, records) -> list:
        """Send each record to its topic. Returns the delivery futures. Detections of one incident key that
        follow one another go out as one record (a JSON array, cut at ``DETECTIONS_BYTES``): a campaign's
        thousands of detections are a few records, not one each."""
        futures = []
        seen: dict[bytes, list[bytes]] = {}
        for rec in records:
            if isinstance(rec, Seen):
                seen.setdefault(incident_key(rec).encode(), []).append(encode(rec))
                continue
            if seen and isinstance(rec, Lifted):  # on the same topic: the detections before it go first
                futures += await self._detections(seen)
                seen = {}
            if isinstance(rec, Alert):
                futures.append(await self._send(self.alerts, rec.subject.encode(), encode(rec), None))
                listed = derived_range(rec) if self.ranges else None
                if listed is not None:
                    futures.append(await self._send(self.ranges, listed.prefix.encode(),
                                                    json.dumps(listed.as_dict()).encode(), None))
            elif isinstance(rec, Lifted):
                key = subject_key(rec.tenant, rec.subject_type, rec.subject).encode()
                futures.append(await self._send(self.detections, key, encode(rec), None))
            elif isinstance(rec, IncidentRecord):
                futures.append(await self._send(self.incidents, rec.incident_id.encode(), encode(rec), None))
            elif isinstance(rec, Action):
                futures += await self._action(rec)
        if seen:
            futures += await self._detections(seen)
        if self._observe is not None and records:
            self._observe(records)
        return futures

    async def _detections(self, groups: dict[bytes, list[bytes]]) -> list:
        futures = []
        for key, values in groups.items():
            if len(values) == 1:
                futures.append(await self._send(self.detections, key, values[0], None))
                continue
            part: list[bytes] = []
            size = 0
            for v in values:
                if part and size + len(v) > DETECTIONS_BYTES:
                    futures.append(await self._send(self.detections, key, b"[" + b",".join(part) + b"]", None))
                    part, size = [], 0
                part.append(v)
                size += len(v) + 1
            futures.append(await self._send(self.detections, key, b"[" + b",".join(part) + b"]", None))
        return futures

    async def _action(self, rec: Action) -> list:
        futures = [await self._send(self.actions, rec.target.encode(), encode(rec), None)]
        if rec.kind == "unblock":  # the address leaves the blocklist (a tombstone on the compacted topic)
            key = json.dumps([rec.tenant, rec.target]).encode()
            futures.append(await self._send(self.blocklist, key, None, None))
        elif rec.kind == "block_ip":
            until = None if rec.duration_s is None else rec.ts.timestamp() + rec.duration_s
            entry = {"tenant": rec.tenant, "ip": rec.target, "alert_id": rec.alert_id, "until": until,
                     "reason": rec.reason}
            key = json.dumps([rec.tenant, rec.target]).encode()
            futures.append(await self._send(self.blocklist, key, json.dumps(entry).encode(), None))
        return futures
