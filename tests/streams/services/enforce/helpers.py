"""Builders shared by the enforce tests."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

from streams.services.enforce.action import parse

NOW = 1_800_000_000.0  # a fixed clock for the in-process tests
_ids = itertools.count(1)


def rec(kind: str = "block_ip", target: str = "203.0.113.9", ago: float = 0.0, duration_s: int | None = 3600,
        tenant: str = "acme", action_id: str | None = None, reason: str = "too many failed REGISTERs",
        now: float = NOW, alert_id: str = "alert-1") -> dict:
    return {"type": "action", "action_id": action_id or f"act-{next(_ids)}",
            "ts": datetime.fromtimestamp(now - ago, timezone.utc).isoformat(), "tenant": tenant, "kind": kind,
            "target": target, "duration_s": duration_s, "alert_id": alert_id, "reason": reason}


def action(**kw):
    return parse(rec(**kw))


class Clock:
    def __init__(self, t: float = NOW):
        self.t = t

    def __call__(self) -> float:
        return self.t
