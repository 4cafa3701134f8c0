"""Fixtures of the notify tests: real local servers, and incident/alert records."""

from __future__ import annotations

import pytest

from .servers import Hook, Mailbox, TcpSyslog, UdpSyslog

HOSTILE = "203.0.113.9\x1b[2J\nFAKE: all clear|x=\\y <script>alert(1)</script> <!channel>"


def incident(iid: str = "i-1", version: int = 1, severity: str = "critical", status: str | None = None,
             tenant: str = "acme", rules=("scanner_user_agent", "registration_lockout"), **kw) -> dict:
    rec = {"type": "incident", "incident_id": iid, "tenant": tenant, "subject_type": "ip", "subject": "203.0.113.9",
           "status": status or ("open" if version == 1 else "updated"), "opened": "2024-05-01T01:02:03+00:00",
           "last_seen": "2024-05-01T01:09:00+00:00", "until": None, "severity": severity, "rules": list(rules),
           "alert_ids": ["a-1"], "action_ids": [], "actions": [], "events": 10 * version, "cost": None,
           "summary": "friendly-scanner registrations", "version": version, "decisions": []}
    rec.update(kw)
    return rec


def alert(aid: str = "a-1", severity: str = "critical", rule: str = "scanner_user_agent", **kw) -> dict:
    rec = {"type": "alert", "alert_id": aid, "ts": "2024-05-01T01:02:03+00:00", "tenant": "acme", "rule": rule,
           "severity": severity, "subject_type": "ip", "subject": "203.0.113.9", "summary": "scanner",
           "evidence": {}, "mode": "enforce"}
    rec.update(kw)
    return rec


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def mailbox():
    m = Mailbox()
    yield m
    m.close()


@pytest.fixture
def udp_syslog():
    s = UdpSyslog()
    yield s
    s.close()


@pytest.fixture
def tcp_syslog():
    s = TcpSyslog()
    yield s
    s.close()
