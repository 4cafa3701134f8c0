"""Rules of one's own (policy `rules:` with `kind:`) through the broker and the worker, against replay."""

import json
import random

import pytest

from streams.policy import Policy
from streams.shells.replay import replay_file
from tests.builders import cdr, sec
from tests.kafka.conftest import ROOT, consume
from tests.kafka.test_equivalence import produce_file

pytestmark = pytest.mark.kafka

OWN = """
  calls_to_one_country:
    kind: event_count
    events: cdr
    key: extension
    where: {direction: outbound}
    group_by: [dst_country]
    seconds: 1h
    threshold: 4
    severity: alert
    actions: [disable_outbound]
  trunk_destinations:
    kind: value_count
    events: cdr
    key: trunk
    field: dst
    seconds: 10m
    threshold: 6
  failed_calls_per_source:
    kind: event_count
    events: cdr
    key: source_ip
    where: {disposition: [failed, busy, no_answer]}
    seconds: 60
    threshold: 5
    actions: [block_ip]
  failures_per_source:
    kind: event_count
    events: security
    key: source_ip
    where: {outcome: failure}
    seconds: 60
    threshold: 6
    actions: [block_ip]
"""


def with_own_rules(text: str) -> str:
    """The example policy with these rules added to its ``rules:`` mapping (a key may not be given twice)."""
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("rules:"))
    return "".join(lines[:at + 1]) + OWN.lstrip("\n") + "".join(lines[at + 1:])


def traffic() -> list[dict]:
    rnd = random.Random(29)
    evs = []
    for ext in ("2001", "2002", "2003"):
        for i in range(rnd.randint(3, 9)):
            evs.append(cdr(t=i * 500 + rnd.random(), src=ext, dst=f"+33 1 40 00 {ext[-1]}{i % 10} {i:02d}",
                           call_id=f"fr-{ext}-{i}", trunk="sip-out", billsec=30, duration=35,
                           disposition="answered", src_ip="192.168.1.20"))
    for i in range(9):
        evs.append(cdr(t=40 + i * 5, src="2004", dst=f"+49 30 1234 {i:04d}", call_id=f"de-{i}", trunk="sip-b",
                       src_ip="198.51.100.30", disposition=rnd.choice(["failed", "busy", "answered"]), billsec=0))
    for i in range(9):  # under registration_lockout's 10: the rule of one's own alone blocks
        evs.append(sec(t=100 + i, ip="203.0.113.60", account=f"7{i:02d}",
                       protocol=rnd.choice(["tcp", "udp"]), round_trip=rnd.choice([True, False])))
    rnd.shuffle(evs)  # the feed in no particular order
    return evs


def test_own_rules_give_the_same_alerts_and_actions_in_the_worker_as_in_replay(broker, prefix, worker, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(with_own_rules((ROOT / "fixtures" / "policy.example.yaml").read_text()))
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in traffic()))
    out, _, _ = replay_file([str(events)], Policy.load(policy))
    own = {"calls_to_one_country", "trunk_destinations", "failed_calls_per_source", "failures_per_source"}
    want = {r.alert_id: r.rule for r in out if r.__class__.__name__ == "Alert"}
    assert own <= set(want.values()), sorted(set(want.values()))  # every rule of one's own fired in replay
    w = worker(policy=str(policy))
    p = produce_file(prefix, events, broker)
    assert p.returncode == 0, p.stderr
    got = {a["alert_id"]: a["rule"] for a in consume(broker, f"{prefix}.alerts", want=len(want), timeout=60, idle=4)}
    assert got == want, f"missing {set(want) - set(got)}, extra {set(got) - set(want)}\n{w.log()}"
    # what is carried out: an incident orders a block once, so which of its detections names it depends on
    # which the worker read first; the blocks, bars and locks themselves may not
    want_act = sorted({(r.kind, r.target, r.from_ip) for r in out if r.__class__.__name__ == "Action"
                       and r.kind != "hangup_call"})
    got_act = sorted({(a["kind"], a["target"], a.get("from_ip")) for a in consume(broker, f"{prefix}.actions",
                      want=10**6, timeout=10, idle=2) if a["kind"] != "hangup_call"})
    assert got_act == want_act
    assert ("block_ip", "203.0.113.60", None) in got_act and ("disable_outbound", "2003", None) in got_act
