"""Campaigns: a botnet's detections as one incident (streams.domain.campaigns, issue 28.1)."""

import random

import msgspec
import pytest

from streams.domain.campaigns import SKETCH, Sketch, Tally, _hash, describe
from streams.domain.incidents import IncidentBook, Seen, settle
from tests.builders import cdr, policy, sec
from tests.streams.domain.test_incidents import detect


def botnet(n=400, accounts=20):
    """``n`` failed REGISTERs, each from a new public address, against ``accounts`` accounts."""
    rnd = random.Random(7)
    return [sec(t=i * 2, ip=f"{rnd.randint(11, 90)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
                action="register", account=str(1000 + rnd.randrange(accounts))) for i in range(n)]


COUNTRY = "allowed_country_ips: [GB]\n"


def campaigns(records, book=None):
    _, updates = settle(records, book or IncidentBook())
    latest = {}
    for u in updates:
        latest[u.incident_id] = u
    return latest


def test_a_botnet_is_one_incident_with_its_members_counted():
    raw = detect(botnet(), policy(COUNTRY))
    seen = [r for r in raw if isinstance(r, Seen)]
    assert len({r.subject for r in seen}) > 300  # one detection per source: the storm a person would read
    latest = campaigns(raw)
    assert len(latest) == 1
    (inc,) = latest.values()
    assert inc.subject_type == "campaign" and {"country_ip", "account_lockout"} <= set(inc.rules)
    c = inc.campaign
    sources = {r.source for r in seen}
    assert c.sources.distinct == len(sources) and not c.sources.estimated  # exact below the sketch's size
    assert c.accounts.distinct == 20 and c.events == inc.events == len({r.ident for r in seen})
    assert c.detections == len(seen) and c.families["country"] == sum(r.rule == "country_ip" for r in seen)
    assert c.countries.distinct == len({r.country for r in seen if r.country})
    assert all(n == sum(r.country == cc for r in seen) for cc, n in c.countries.sample)  # exact for the kept ones


@pytest.mark.parametrize("seed", range(3))
def test_the_campaign_is_the_same_in_any_order_and_folding_twice_changes_nothing(seed):
    raw = [r for r in detect(botnet(), policy(COUNTRY)) if isinstance(r, Seen)]
    want = campaigns(raw)
    shuffled = raw[:]
    random.Random(seed).shuffle(shuffled)
    book = IncidentBook()
    got = campaigns(shuffled, book)
    again = campaigns(shuffled[:50], book)  # a redelivered batch
    strip = lambda recs: {k: msgspec.to_builtins(r.campaign) for k, r in recs.items()}  # noqa: E731
    assert strip(got) == strip(want)
    assert {k: (r.rules and set(r.rules), r.severity, r.events) for k, r in got.items()} == \
        {k: (r.rules and set(r.rules), r.severity, r.events) for k, r in want.items()}
    assert all(r.campaign == got[k].campaign for k, r in again.items())


def test_a_source_that_makes_a_call_keeps_its_own_incident():
    """A connection from a disallowed country that places a call: a person looks at that one by itself."""
    evs = botnet(50) + [cdr(t=30, src="1001", src_ip="45.10.20.30", dst="0044207946000", call_id="c1", billsec=60)]
    latest = campaigns(detect(evs, policy(COUNTRY)))
    own = [r for r in latest.values() if r.subject_type == "ip" and r.subject == "45.10.20.30"]
    assert own and own[0].rules == ["country_ip"] and own[0].campaign is None
    assert sum(r.subject_type == "campaign" for r in latest.values()) == 1


def test_campaign_seconds_zero_keeps_one_incident_per_subject():
    latest = campaigns(detect(botnet(100), policy(COUNTRY + "campaign_seconds: 0\n")))
    assert len(latest) > 50 and not any(r.subject_type == "campaign" for r in latest.values())


def test_the_sketch_counts_exactly_below_its_size_and_close_above_in_any_order():
    values = [f"198.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(40_000)]
    small, big = Sketch(), Sketch()
    for v in values[:SKETCH - 1]:
        small.add(_hash(v))
    assert small.distinct() == (SKETCH - 1, False)
    for v in values:
        big.add(_hash(v))
        big.add(_hash(v))  # a repeat counts once
    n, estimated = big.distinct()
    assert estimated and abs(n - 40_000) / 40_000 < 0.1
    shuffled = values[:]
    random.Random(1).shuffle(shuffled)
    other = Sketch()
    for v in shuffled:
        other.add(_hash(v))
    assert other == big


def test_the_sample_keeps_exact_counts_of_the_same_values_in_any_order():
    events = [f"a{i % 300}" for i in range(3000)] + [f"b{i}" for i in range(500)]
    one, two = Tally(), Tally()
    for v in events:
        one.add(v)
    for v in random.Random(3).sample(events, len(events)):
        two.add(v)
    assert one.kept == two.kept and len(one.kept) == 32
    assert all(n == (10 if v.startswith("a") else 1) for v, n in one.kept.items())


def test_the_one_line_description_marks_estimates():
    line = describe({"families": {"brute_force": 3}, "events": 30000, "events_estimated": True,
                     "sources": {"distinct": 29000, "estimated": True}, "accounts": {"distinct": 500, "estimated": False},
                     "countries": {"sample": [["NL", 900], ["SE", 700]]}})
    assert line == ("campaign of brute_force: ~30,000 events from ~29,000 sources against 500 accounts "
                    "(most from NL 900, SE 700)")
    one = describe({"families": {"scan": 2}, "events": 2, "sources": {"distinct": 1, "sample": [["203.0.113.9", 2]]},
                    "accounts": {"distinct": 1}})
    assert one == "campaign of scan: 2 events from 1 sources (203.0.113.9) against 1 accounts"  # a search finds it


def test_the_incidents_table_shows_a_campaign_on_a_second_line_with_hostile_names_escaped():
    from streams.commands.soc import row
    rec = {"incident_id": "i-1", "tenant": "t", "subject_type": "campaign", "subject": "2026-11-30T10:00:00Z",
           "opened": "2026-11-30T10:00:00Z", "severity": "critical", "status": "open", "events": 2, "rules": ["x"],
           "campaign": {"families": {"brute_force": 2}, "events": 2, "sources": {"distinct": 2},
                        "accounts": {"distinct": 1}, "countries": {"sample": [["NL\x1b[31m\n", 2]]}}}
    first, second = row(rec).split("\n")
    assert "campaign:2026-11-30T10:00:00Z" in first
    assert second.strip().startswith("campaign of brute_force: 2 events from 2 sources against 1 accounts")
    assert "\x1b" not in second


def test_the_index_beside_a_campaigns_lists_answers_as_a_scan_of_them(monkeypatch):
    """A campaign's alert ids and actions run to MAX_LIST: the book looks them up in an index it keeps beside
    them. Past MAX_LIST, with repeated targets and lifts between, it publishes and records what scans would."""
    from streams.domain.events import Action
    from streams.domain.incidents import Lifted, MAX_LIST
    from streams.core.epochs import iso

    def records():
        raw = detect(botnet(n=3 * MAX_LIST, accounts=5), policy(COUNTRY))
        seen = [r for r in raw if isinstance(r, Seen)]
        rnd = random.Random(11)
        out = []
        for k, r in enumerate(seen):
            out.append(r)
            if k % 97 == 50 and r.actions:  # the SOC lifts a block, and the next detections order it again
                a = r.actions[0]
                lift = Action(action_id=f"u{k}", ts=iso(r.ts + 1), tenant=r.tenant, kind="unblock", target=a.target,
                              duration_s=None, alert_id="", reason="lifted")
                out.append(Lifted(tenant=r.tenant, subject_type="campaign", subject=r.campaign, ts=r.ts + 1,
                                  by="soc", reason="lifted", action=lift))
            if rnd.random() < 0.2:
                out.append(rnd.choice(seen))  # a redelivered detection
        return out

    recs = records()
    assert sum(len(r.actions) for r in recs if isinstance(r, Seen)) > MAX_LIST
    indexed = settle(recs, IncidentBook())
    monkeypatch.setattr(IncidentBook, "_holds", lambda self, items, value, name=None:
                        value in items if name is None else any(name(x) == value for x in items))
    scanned = settle(recs, IncidentBook())
    assert msgspec.to_builtins(indexed) == msgspec.to_builtins(scanned)
