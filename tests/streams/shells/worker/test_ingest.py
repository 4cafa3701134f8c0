"""Ingest in-process: validation, the clock check, routing by scope key, marks, dead letters."""
import json
from collections import namedtuple

from streams.shells.worker import records
from streams.shells.worker.clock import EXPECT
from streams.policy import Policy
from streams.shells.worker.ingest import Ingest, lane_marks, partition_of
from tests.builders import cdr, sec

Rec = namedtuple("Rec", "topic partition offset value")
NOW = 1772618400.0 + 86400  # a day after tests.builders.T0


def recs(*events, topic="p.cdr", partition=0):
    return [Rec(topic, partition, i, json.dumps(e).encode() if isinstance(e, dict) else e) for i, e in enumerate(events)]


def unpack(routed):
    out = {}
    for dest, values in routed.out.items():
        for v in values:
            marks, entries = records.decode(v)
            out.setdefault(dest, []).extend(entries)
    return out


def test_each_event_goes_to_the_partition_of_each_of_its_scope_keys():
    ing = Ingest(4, Policy.default(), clock=lambda: NOW)
    ev = cdr(t=0, src="1001", src_ip="203.0.113.9", trunk="sip1", call_id="k")
    out = unpack(ing.route(recs(ev)))
    want = {("ext", partition_of(b"ext:default/1001", 4), "calls"), ("ip", partition_of(b"ip:203.0.113.9", 4), "calls"),
            ("trunk", partition_of(b"trunk:default/sip1", 4), "calls")}
    assert set(out) == want  # what the CDR topic brought goes to the calls lane of each scope
    src, offset, index, raw, ts, ident = out[("ext", partition_of(b"ext:default/1001", 4), "calls")][0]
    assert (src, offset, index) == ("cdr:0", 0, -1) and json.loads(raw)["call_id"] == "k"


def test_bad_records_and_elements_are_dead_letters_with_where_and_why():
    ing = Ingest(2, Policy.default(), clock=lambda: NOW)
    bad_batch = json.dumps([cdr(call_id="a"), {"type": "cdr"}]).encode()
    routed = ing.route(recs(b"{not json", bad_batch, b""))
    dead = [json.loads(d) for d in routed.dead]
    assert [d["offset"] for d in dead] == [0, 1, 2] and dead[1]["index"] == 1
    assert "not valid JSON" in dead[0]["reason"] and dead[2]["raw_bytes"] == 0
    assert routed.events == 1


def test_an_event_too_far_ahead_of_the_clock_is_refused_and_moves_no_mark():
    ing = Ingest(2, Policy.default(), skew=900, clock=lambda: NOW)
    routed = ing.route(recs(cdr(t=0, call_id="ok"), {**cdr(call_id="future"), "start": "2199-01-01T00:00:00Z"}))
    assert routed.events == 1 and "ahead of the worker's clock" in json.loads(routed.dead[0])["reason"]
    assert ing.sources[("p.cdr", 0)].wm < NOW


def test_marks_follow_the_events_they_cover_and_name_every_source():
    ing = Ingest(1, Policy.default(), clock=lambda: NOW)
    ing.expect({"p.cdr": 2, "p.security": 1})
    routed = ing.route(recs(cdr(t=10, call_id="a"), cdr(t=5, call_id="b")))
    marks, entries = records.decode(routed.out[("ext", 0, "calls")][0])
    assert marks[EXPECT] == ["cdr:0", "cdr:1", "security:0"]
    wm, idle, tenants, pace = marks["cdr:0"]
    assert wm == max(e[4] for e in entries) == pace and not idle and tenants["default"][0] == wm
    assert ing.marks()["cdr:0"][0] == wm and ing.marks() == {}  # announced once, then nothing changed


def test_security_events_route_by_ip_and_account():
    ing = Ingest(4, Policy.default(), clock=lambda: NOW)
    out = unpack(ing.route(recs(sec(account="1001"), topic="p.security")))
    assert {s for s, _, _ in out} == {"ip", "ext", "tenant"}  # a failure also counts across its tenant
    assert {lane for _, _, lane in out} == {"security"}
    out = unpack(ing.route(recs(sec(account="1001", outcome="success"), topic="p.security")))
    assert {s for s, _, _ in out} == {"ip", "ext"}


def test_each_lane_carries_only_its_own_sources_marks():
    """A scope partition's clock is the least of its sources' marks: a security source's mark must not
    overtake its events by the calls lane (and the other way round)."""
    ing = Ingest(1, Policy.default(), clock=lambda: NOW)
    ing.expect({"p.cdr": 1, "p.security": 1})
    routed = ing.route(recs(cdr(t=10, call_id="a")) + recs(sec(t=20, account="1001"), topic="p.security"))
    calls, _ = records.decode(routed.out[("ext", 0, "calls")][0])
    security, _ = records.decode(routed.out[("ext", 0, "security")][0])
    assert "cdr:0" in calls and "security:0" not in calls
    assert "security:0" in security and "cdr:0" not in security
    split = lane_marks(ing.marks())
    assert set(split["calls"]) == {"cdr:0", EXPECT} and set(split["security"]) == {"security:0", EXPECT}


def test_scopes_receive_the_cleaned_event_and_read_it_without_cleaning_again():
    from streams.domain.events import decode_checked
    ing = Ingest(2, Policy.default(), clock=lambda: NOW)
    hostile = sec(ip="::ffff:203.0.113.9", account="10\u202e01", user_agent="x\x1b]0;t\x07")
    plain = sec(t=1, ip="198.51.100.1", account="1002")
    for batch in (recs(hostile, plain, topic="p.security"),
                  recs(json.dumps([hostile, plain]).encode(), topic="p.security")):  # one-event and batch records
        entries = [e for v in unpack(ing.route(batch)).values() for e in v]
        events = [decode_checked(raw) for _, _, _, raw, _, _ in entries]
        cleaned = [e for e in events if e.account == "10\\u202e01"]
        assert cleaned and all(e.src_ip == "203.0.113.9" and e.user_agent == "x\\x1b]0;t\\x07" for e in cleaned)
        assert any(e.account == "1002" for e in events)
