"""One record of ``<prefix>.actions``, checked before anything acts on it.

Every field but the kind comes from traffic an attacker sends (the target is the address or number
that was detected, the reason quotes what was seen), so nothing here trusts them: the record must be
a JSON object with the contract's fields and types, and a target must be plain text (no controls,
no leading ``-`` that a script would read as an option, bounded length). ``from_ip`` (the source a
``lock_account`` applies to) is optional: absent or null means none. Backends check further (every
address, target or ``from_ip``, against the never-block list: :mod:`.neverblock`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone

from streams.reference.text import UNSAFE

BLOCK_KINDS = ("block_ip", "lock_account", "disable_outbound", "block_number")
KINDS = BLOCK_KINDS + ("hangup_call", "unblock")
MAX_TARGET = 256
HANGUP_MAX_AGE = 86_400  # a hang-up for a call that started longer ago than any call lasts is moot


class BadAction(ValueError):
    """The record is not an action this command can act on; ``str()`` says why (no raw input)."""


@dataclass(frozen=True)
class Action:
    action_id: str
    ts: float  # epoch seconds
    tenant: str
    kind: str
    target: str
    duration_s: int | None
    alert_id: str
    reason: str
    from_ip: str | None = None  # the source address a lock applies to; None: the whole account

    @property
    def until(self) -> float | None:
        """When the block ends (epoch seconds); None: until lifted."""
        return None if self.duration_s is None else self.ts + self.duration_s

    def remaining(self, now: float, until: float | None = None) -> int | None:
        """Whole seconds left (rounded up) of ``until`` (default: this action's), None when unbounded."""
        end = self.until if until is None else until
        return None if end is None else max(0, math.ceil(end - now))

    def expired(self, now: float) -> bool:
        if self.kind == "hangup_call":
            return self.ts + HANGUP_MAX_AGE <= now
        return self.kind != "unblock" and self.until is not None and self.until <= now

    def as_dict(self) -> dict:
        return {"type": "action", "action_id": self.action_id, "ts": iso(self.ts), "tenant": self.tenant,
                "kind": self.kind, "target": self.target, "duration_s": self.duration_s,
                "alert_id": self.alert_id, "reason": self.reason, "from_ip": self.from_ip}


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def parse(value: bytes | str | dict) -> Action:
    """An :class:`Action` from a record value, or :class:`BadAction`."""
    rec = value
    if not isinstance(rec, dict):
        try:
            rec = json.loads(value)
        except (ValueError, UnicodeDecodeError):
            raise BadAction("not JSON") from None
    if not isinstance(rec, dict) or rec.get("type", "action") != "action":
        raise BadAction("not an action record")
    kind = rec.get("kind")
    if kind not in KINDS:
        raise BadAction("unknown kind")
    strings = {k: rec.get(k, "") for k in ("action_id", "tenant", "target", "alert_id", "reason")}
    if not all(isinstance(v, str) for v in strings.values()):
        raise BadAction("a text field is not text")
    if not strings["action_id"] or not strings["tenant"]:
        raise BadAction("no action_id or tenant")
    if UNSAFE.search(strings["action_id"] + strings["tenant"]):
        raise BadAction("action_id or tenant holds control characters")
    check_target(strings["target"])
    return Action(ts=_time(rec.get("ts")), kind=kind, duration_s=_duration(rec.get("duration_s")),
                  from_ip=_from_ip(rec.get("from_ip")), **strings)


def check_target(target: str) -> None:
    if not target or len(target) > MAX_TARGET:
        raise BadAction("empty or overlong target")
    if target.startswith("-") or UNSAFE.search(target) or target != target.strip():
        raise BadAction("target holds control characters, edge spaces or a leading '-'")


def _from_ip(raw) -> str | None:
    """Absent or null: no source (a whole-account lock, or a record written before the field existed)."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw or len(raw) > 64 or UNSAFE.search(raw) or raw != raw.strip():
        raise BadAction("from_ip is neither null nor plain text of an address")
    return raw


def _time(raw) -> float:
    if not isinstance(raw, str):
        raise BadAction("ts is not an RFC 3339 time")
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadAction("ts is not an RFC 3339 time") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.timestamp()


def _duration(raw) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise BadAction("duration_s is neither null nor a whole number of seconds ≥ 0")
    return raw
