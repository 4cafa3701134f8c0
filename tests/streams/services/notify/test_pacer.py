"""Routing, dedupe, the opening message, digests and the storm cap of one channel (no I/O, a fake clock)."""

from __future__ import annotations

import pytest

from streams.services.notify.pacer import Pacer
from streams.services.notify.settings import NotifySettings

from .conftest import alert, incident


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def channel(**kw):
    return NotifySettings.model_validate({"channels": [{"name": "c", "type": "syslog", "address": "127.0.0.1:1", **kw}]}).channels[0]


def pacer(**kw):
    clock, folded = Clock(), []
    p = Pacer(channel(**kw), clock=clock, on_fold=folded.append)
    return p, clock, folded


def offer(p, rec, off=0, replay=False):
    return p.offer(rec, ("t", 0, off), replay)


@pytest.mark.parametrize("kw,rec,routed", [
    ({"min_severity": "warning"}, incident(severity="warning"), True),
    ({"min_severity": "critical"}, incident(severity="warning"), False),
    ({"tenants": ["acme"]}, incident(), True),
    ({"tenants": ["other"]}, incident(), False),
    ({"rules": ["registration_lockout"]}, incident(), True),
    ({"rules": ["premium_rate"]}, incident(), False),
    ({}, alert(), False),                                   # alerts only for channels that ask for them
    ({"records": ["alerts"]}, alert(), True),
    ({"records": ["alerts"]}, incident(), False),
    ({"records": ["alerts", "incidents"], "rules": ["scanner_user_agent"]}, alert(), True),
    ({"records": ["alerts"], "rules": ["premium_rate"]}, alert(), False),
])
def test_routing(kw, rec, routed):
    p, _, _ = pacer(**kw)
    finished = offer(p, rec)
    assert (finished == []) is routed
    assert len(p.due()) == (1 if routed else 0)


def test_open_is_sent_at_once_and_a_redelivery_is_not_sent_again():
    p, _, _ = pacer()
    assert offer(p, incident(), 1) == []
    [m] = p.due()
    assert m.kind == "opened" and m.refs == [("t", 0, 1)] and m.keys == [("i-1", 1)]
    assert offer(p, incident(), 7) == [("t", 0, 7)]   # same (incident, version): finished, nothing sent
    assert p.due() == []


def test_updates_wait_for_one_digest_per_incident_per_period():
    p, clock, _ = pacer(digest_seconds=300)
    offer(p, incident(version=1), 0)
    [opened] = p.due()
    p.done(opened)
    for v in (2, 3, 4):
        clock.t += 10
        offer(p, incident(version=v, status="acknowledged" if v == 4 else None), v)
        assert p.due() == []
    assert 0 < p.next_wake(cap=1000) <= 300
    clock.t = 1000 + 300
    [d] = p.due()
    assert d.kind == "digest" and d.keys == [("i-1", 2), ("i-1", 3), ("i-1", 4)]
    assert d.refs == [("t", 0, 2), ("t", 0, 3), ("t", 0, 4)]
    assert "v4 acknowledged" in d.text and "3 update(s)" in d.text
    p.done(d)
    offer(p, incident(version=5, status="resolved"), 5)
    clock.t += 299
    assert p.due() == []
    clock.t += 1
    [d2] = p.due()
    assert d2.keys == [("i-1", 5)] and "v5 resolved" in d2.text


def test_an_incident_that_escalates_into_the_channel_opens_there():
    p, _, _ = pacer(min_severity="critical")
    assert offer(p, incident(version=1, severity="warning"), 0) == [("t", 0, 0)]
    offer(p, incident(version=2, severity="critical"), 1)
    [m] = p.due()
    assert m.kind == "opened" and m.keys == [("i-1", 2)]


def test_replayed_records_are_remembered_not_sent():
    p, clock, _ = pacer(digest_seconds=60)
    assert offer(p, incident(version=1), 0, replay=True) == [("t", 0, 0)]
    assert offer(p, incident(version=2), 1, replay=True) == [("t", 0, 1)]
    offer(p, incident(version=3), 2)              # not finished by the earlier run: a digest, not an "opened"
    assert p.due() == []
    clock.t += 10
    [d] = p.due()
    assert d.kind == "digest" and d.keys == [("i-1", 3)]


def test_storm_cap_folds_the_excess_counts_it_and_sends_it_in_one_message():
    p, clock, folded = pacer(max_per_minute=3)
    for i in range(10):
        offer(p, incident(iid=f"i-{i}"), i)
    out = p.due()
    assert [m.kind for m in out] == ["opened"] * 3
    assert sum(folded) == 7 and len(p.folded) == 7
    assert p.due() == []                          # the minute is used up: nothing more, nothing lost
    offer(p, incident(iid="i-late"), 10)
    assert p.due() == [] and len(p.folded) == 8 and sum(folded) == 8
    assert 0 < p.next_wake(cap=100) <= 60
    clock.t += 60
    [storm] = p.due()
    assert storm.kind == "storm" and len(storm.items) == 8
    assert sorted(r[2] for r in storm.refs) == list(range(3, 11))
    assert "8 notification(s) folded" in storm.title
    assert storm.body["folded"] == 8
    assert p.folded == []


def test_alerts_are_deduplicated_by_alert_id():
    p, _, _ = pacer(records=["alerts"])
    offer(p, alert("a-1"), 0)
    offer(p, alert("a-1"), 1)
    offer(p, alert("a-2"), 2)
    assert [m.keys for m in p.due()] == [[("alert", "a-1")], [("alert", "a-2")]]


def test_an_incident_that_turns_critical_is_told_at_once_not_in_the_next_digest():
    p, clock, _ = pacer(min_severity="warning", digest_seconds=300)
    offer(p, incident(iid="i-1", version=1, severity="warning"), 0)
    (opened,) = p.due()
    offer(p, incident(iid="i-1", version=2, severity="warning"), 1)   # waits for the digest
    offer(p, incident(iid="i-1", version=3, severity="critical"), 2)  # escalates: goes now, with v2
    (m,) = p.due()
    assert m.kind == "escalated" and "CRITICAL escalated" in m.title and "warning -> critical" in m.text
    assert m.body["previous_severity"] == "warning" and len(m.refs) == 2
    offer(p, incident(iid="i-1", version=4, severity="critical"), 3)  # same severity: back to digests
    assert p.due() == []
