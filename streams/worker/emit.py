"""The worker's one way out for detections: alerts, actions and the blocklist (no Faust here).

``Emitter.send`` hands records to a producer function and returns what to await; the scope
commit protocol awaits it before it writes the state that records the detection as done.
"""

from __future__ import annotations

import json
from typing import Awaitable, Callable

from ..events import Action, Alert, encode

Send = Callable[[str, bytes | None, bytes, int | None], Awaitable]


class Emitter:
    def __init__(self, send: Send, alerts: str, actions: str, blocklist: str):
        self._send = send
        self.alerts, self.actions, self.blocklist = alerts, actions, blocklist
        self.count = {"alerts": 0, "actions": 0}

    async def send(self, records) -> list:
        """Send alerts (keyed by subject) and actions (keyed by target); a block also goes to the
        compacted blocklist, keyed by tenant and address. Returns the delivery futures."""
        futures = []
        for rec in records:
            if isinstance(rec, Alert):
                futures.append(await self._send(self.alerts, rec.subject.encode(), encode(rec), None))
                self.count["alerts"] += 1
                continue
            futures.append(await self._send(self.actions, rec.target.encode(), encode(rec), None))
            self.count["actions"] += 1
            if isinstance(rec, Action) and rec.kind == "block_ip":
                until = None if rec.duration_s is None else rec.ts.timestamp() + rec.duration_s
                entry = {"tenant": rec.tenant, "ip": rec.target, "alert_id": rec.alert_id, "until": until,
                         "reason": rec.reason}
                key = json.dumps([rec.tenant, rec.target]).encode()
                futures.append(await self._send(self.blocklist, key, json.dumps(entry).encode(), None))
        return futures
