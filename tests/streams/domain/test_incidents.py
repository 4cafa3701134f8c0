"""Incidents: every detection about one subject of one tenant folded into one record (streams.domain.incidents)."""

import random
from datetime import datetime, timezone

from streams.core.detector import Detector
from streams.domain.events import Action, decode_event, encode
from streams.domain.incidents import Decision, IncidentBook, IncidentRecord, Seen, settle
from streams.shells.replay import format_table_row
from tests.builders import at, cdr, policy, sec


def detect(events, pol=None) -> list:
    """The detector's raw output (alerts and detections) for events fed in order."""
    det = Detector(pol or policy())
    out: list = []
    for ev in events:
        out += det.feed(decode_event(encode(ev)))
    return out + det.finish()


def fold(records, book=None) -> tuple[dict[str, IncidentRecord], list]:
    book = book or IncidentBook()
    latest: dict[str, IncidentRecord] = {}
    published, updates = settle(records, book)
    for u in updates:
        latest[u.incident_id] = u
    return latest, published


def scanner_and_brute_force(ip="198.51.100.23"):
    evs = [sec(t=0, ip=ip, action="register", account="1001", user_agent="friendly-scanner")]
    evs += [sec(t=5 + i, ip=ip, action="register", account=str(1000 + i % 7), user_agent="PolycomVVX")
            for i in range(30)]
    return evs


def test_a_scanner_that_also_brute_forces_registrations_is_one_incident_listing_both_rules():
    raw = detect(scanner_and_brute_force())
    latest, _ = fold(raw)
    assert len(latest) == 1, [(r.subject, r.rules) for r in latest.values()]
    (inc,) = latest.values()
    assert inc.subject_type == "campaign" and inc.campaign.sources.sample == [("198.51.100.23", inc.campaign.detections)]
    assert {"scanner_user_agent", "registration_lockout"} <= set(inc.rules)
    assert inc.severity == "critical" or inc.severity == "alert"
    tripped = {r.ident for r in raw if isinstance(r, Seen) and r.subject == "198.51.100.23"}
    assert inc.events == len(tripped) > 10  # every event that tripped a rule, each once whatever it tripped
    assert inc.version >= 2 and inc.status in ("updated", "open")


def test_one_fraudulent_call_orders_each_block_once():
    """A call that trips several rules (country code, premium rate, blocked number) blocks the number once."""
    pol = policy("blocked_numbers: ['0909879XXXX']\n")
    raw = detect([cdr(t=0, dst="09098790000", billsec=60, call_id="fraud")], pol)
    ordered = [a for s in raw if isinstance(s, Seen) for a in s.actions if a.kind == "block_number"]
    assert len(ordered) >= 2, "the fixture must make two rules order the same block"
    latest, published = fold(raw)
    blocks = [a for a in published if isinstance(a, Action) and a.kind == "block_number"]
    assert len(blocks) == 1
    (inc,) = [r for r in latest.values() if r.subject == "1001"]
    assert len(inc.rules) >= 2 and blocks[0].action_id in inc.action_ids
    assert len({(a.kind, a.target) for a in inc.actions}) == len(inc.actions) == len(published) - 2  # two alerts
    assert inc.cost is not None and inc.cost > 0  # the call was priced from the rate table


def test_folding_the_same_records_again_changes_nothing():
    raw = detect(scanner_and_brute_force())
    book = IncidentBook()
    first, published = fold(raw, book)
    again, republished = fold(raw, book)
    assert again == {} and republished == [r for r in raw if not isinstance(r, Seen)]
    assert [r.version for r in book.current()] == [r.version for r in first.values()]


def test_arrival_order_does_not_change_what_an_incident_holds():
    raw = detect(scanner_and_brute_force() + [cdr(t=50, dst="09098790000", call_id="x")])
    want = {_content(r) for r in fold(raw)[0].values()}
    for seed in range(5):
        shuffled = raw[:]
        random.Random(seed).shuffle(shuffled)
        assert {_content(r) for r in fold(shuffled)[0].values()} == want


def _content(r: IncidentRecord):
    return (r.tenant, r.subject_type, r.subject, tuple(sorted(r.rules)), tuple(sorted(r.alert_ids)), r.events)


def _seen(alert_id, ts, rule="r1", span=600.0, ident=None, **kw):
    return Seen(alert_id=alert_id, ts=ts, tenant="t", rule=rule, severity=kw.pop("severity", "warning"),
                subject_type="ip", subject="203.0.113.9", summary=kw.pop("summary", "s"), span=span,
                ident=ident if ident is not None else int(ts * 10) + 1, **kw)


def test_an_incident_lasts_its_span_and_the_next_detection_after_it_opens_another():
    book = IncidentBook()
    (first,), _ = book.fold(_seen("a1", 1000.0))
    updates, _ = book.fold(_seen("a2", 1500.0, rule="r2", severity="critical"))
    assert updates[-1].incident_id == first.incident_id and updates[-1].rules == ["r1", "r2"]
    assert updates[-1].severity == "critical" and updates[-1].status == "updated"
    updates, _ = book.fold(_seen("a3", 2200.0))  # 1500 + 600 < 2200: the first is over
    assert [u.status for u in updates] == ["closed", "open"]
    assert updates[1].incident_id != first.incident_id


def test_a_block_keeps_its_incident_open_while_it_lasts():
    book = IncidentBook()
    book.fold(_seen("a1", 0.0, span=7 * 86400.0))
    updates, _ = book.fold(_seen("a2", 5 * 86400.0, rule="r2"))
    assert len({u.incident_id for u in updates}) == 1 and updates[0].rules == ["r1", "r2"]


def test_the_socs_decisions_change_the_status_and_a_false_positive_is_kept_as_a_verdict():
    book = IncidentBook()
    (opened,), _ = book.fold(_seen("a1", 0.0))
    at = datetime(2026, 11, 30, tzinfo=timezone.utc)
    ack = Decision(incident_id=opened.incident_id, tenant="t", subject_type="ip", subject="203.0.113.9",
                   status="acknowledged", by="alice", at=at, note="looking")
    (u,), _ = book.fold(ack)
    assert u.status == "acknowledged" and u.decisions[0].by == "alice" and u.version == 2
    assert book.fold(ack) == ([], [])  # redelivered: nothing new
    updates, _ = book.fold(_seen("a1", 10.0))  # more of the same: still acknowledged
    assert updates[-1].status == "acknowledged"
    res = Decision(incident_id=opened.incident_id, tenant="t", subject_type="ip", subject="203.0.113.9",
                   status="resolved", by="bob", at=at, note="test traffic", verdict="false_positive")
    (u,), _ = book.fold(res)
    assert u.status == "resolved" and u.verdict == "false_positive"
    updates, _ = book.fold(_seen("a1", 20.0))  # the alert the SOC judged: stays in the resolved incident
    assert all(x.incident_id == opened.incident_id for x in updates)
    updates, _ = book.fold(_seen("a9", 30.0, rule="r2"))  # a new detection: a new incident
    assert updates[-1].status == "open" and updates[-1].incident_id != opened.incident_id


def test_a_decision_for_an_unknown_incident_changes_nothing():
    book = IncidentBook()
    d = Decision(incident_id="i-nope", tenant="t", subject_type="ip", subject="x", status="acknowledged",
                 by="a", at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert book.fold(d) == ([], [])


def test_sweep_closes_incidents_that_event_time_has_passed():
    book = IncidentBook()
    book.fold(_seen("a1", 0.0))
    assert book.sweep("t", 599.0) == []
    (closed,) = book.sweep("t", 600.0)
    assert closed.status == "closed" and book.sweep("t", 10_000.0) == []


def test_an_incident_is_bounded_whatever_a_flood_holds():
    book = IncidentBook()
    for i in range(10_000):
        book.fold(_seen(f"a{i % 300}", float(i % 500), rule=f"r{i % 3}", ident=i + 1,
                        call_id=f"c{i}", cost=0.5))
    (inc,) = book.current()
    assert inc.events == 10_000  # counted past the identities kept
    assert len(inc.alert_ids) <= 256 and len(book.state["t|ip|203.0.113.9"].items[0].idents) <= 1024
    assert inc.cost == 128 * 0.5  # calls priced up to the cap


def test_a_hostile_subject_is_escaped_in_the_table():
    book = IncidentBook()
    s = _seen("a1", 0.0)
    s.subject = "\x1b[2J1001\nFAKE ROW"
    (u,), _ = book.fold(s)
    row = format_table_row(u)
    assert "\x1b" not in row and "\n" not in row and "\\x1b[2J" in row


def test_a_decision_on_an_incident_no_longer_held_adopts_it_from_the_record_the_soc_saw():
    book = IncidentBook()
    (opened,), _ = book.fold(_seen("a1", 0.0))
    for i in range(12):  # many later incidents of the same subject push the first out of memory
        book.fold(_seen(f"b{i}", 10_000.0 * (i + 1)))
    assert all(i.incident_id != opened.incident_id for i in book.state["t|ip|203.0.113.9"].items)
    at = datetime(2026, 11, 30, tzinfo=timezone.utc)
    d = Decision(incident_id=opened.incident_id, tenant="t", subject_type="ip", subject="203.0.113.9",
                 status="acknowledged", by="alice", at=at, incident=opened)
    (u,), _ = book.fold(d)
    assert u.incident_id == opened.incident_id and u.decisions[0].by == "alice"
    assert u.rules == opened.rules and u.events == opened.events and u.version == opened.version + 1


def test_a_block_that_outlasts_the_earlier_one_goes_out_and_a_lifted_block_may_be_ordered_again():
    from streams.domain.incidents import Lifted
    book = IncidentBook()

    def block(aid, ts, dur):
        a = Action(action_id=f"x{aid}", ts=datetime.fromtimestamp(ts, timezone.utc), tenant="t", kind="block_ip",
                   target="203.0.113.9", duration_s=dur, alert_id=aid, reason="r")
        return _seen(aid, ts, span=float(dur), actions=[a])
    assert len(book.fold(block("a1", 0.0, 600))[1]) == 1
    assert book.fold(block("a2", 100.0, 300))[1] == []          # inside the first: a repeat
    assert len(book.fold(block("a3", 590.0, 600))[1]) == 1      # outlasts it: the enforcer extends
    lift = Action(action_id="u1", ts=datetime.fromtimestamp(700.0, timezone.utc), tenant="t", kind="unblock",
                  target="203.0.113.9", duration_s=None, alert_id="", reason="cleared")
    updates, published = book.fold(Lifted(tenant="t", subject_type="ip", subject="203.0.113.9", ts=700.0, by="al",
                                          reason="cleared", action=lift))
    assert published == [lift] and updates[-1].decisions[-1].status == "lifted"
    assert len(book.fold(block("a4", 800.0, 300))[1]) == 1      # lifted: blocks again


def test_action_targets_on_incidents_follow_the_tenants_privacy():
    from streams.reference.privacy import Privacy
    book = IncidentBook(privacy=lambda tenant: Privacy(hash_ips=True, salt=b"s"))
    a = Action(action_id="x1", ts=datetime.fromtimestamp(0, timezone.utc), tenant="t", kind="block_ip",
               target="198.51.100.23", duration_s=60, alert_id="a1", reason="r")
    (u,), published = book.fold(_seen("a1", 0.0, actions=[a]))
    assert published[0].target == "198.51.100.23"             # the enforcer needs the address
    assert "198.51.100.23" not in encode(u).decode()          # people see a pseudonym


def test_subjects_long_over_are_forgotten():
    book = IncidentBook()
    book.fold(_seen("a1", 0.0))
    book.sweep("t", 600.0)
    assert "t|ip|203.0.113.9" in book.state
    book.sweep("t", 600.0 + 7 * 86400)
    assert book.state == {}


def test_a_quiet_feeds_incidents_close_by_the_wall_clock():
    """The worker passes its wall clock: event time has surely reached it, so incidents of a feed that went
    quiet close (a detection after it would be more than the skew ahead and refused)."""
    book = IncidentBook()
    book.fold(_seen("a1", 0.0))
    assert book.sweep(None) == []                    # its own latest detection: not over yet
    (closed,) = book.sweep(None, floor=10_000.0)
    assert closed.status == "closed"


def test_unblocking_an_extension_is_noted_on_its_incident_and_the_action_goes_out_once():
    """A fraudulent call bars extension 1001; the SOC lifts the bar: the extension's incident records it."""
    pol = policy("blocked_numbers: ['0909879XXXX']\n")
    events = [cdr(t=0, dst="09098790000", billsec=60, call_id="fraud")]
    lift = {"type": "unblock", "ts": at(120), "target": "1001", "reason": "customer confirmed", "by": "carol"}
    det = Detector(pol)
    raw: list = []
    for ev in events + [lift]:
        raw += det.feed(decode_event(encode(ev)))
    latest, published = fold(raw + det.finish())
    unblocks = [a for a in published if isinstance(a, Action) and a.kind == "unblock"]
    assert len(unblocks) == 1 and unblocks[0].target == "1001" and "carol" in unblocks[0].reason
    (inc,) = [r for r in latest.values() if r.subject == "1001"]
    assert inc.decisions[-1].status == "lifted" and inc.decisions[-1].by == "carol"
    assert any(a.kind == "disable_outbound" and a.lifted for a in inc.actions)


def test_the_summary_is_the_most_severe_alerts_not_the_latest():
    """Issue 26.5: a model warning after a rule's critical alert replaced the incident's summary, so the SOC read
    "behaves unusually" on an incident whose reason was a premium-rate call."""
    def seen(alert_id, ts, severity, summary):
        return Seen(alert_id=alert_id, ts=ts, tenant="t", rule=alert_id, severity=severity, subject_type="extension",
                    subject="1004", summary=summary, span=3600.0, ident=int(ts) + 1)
    records = [seen("w1", 100.0, "warning", "behaves unusually (first)"),
               seen("c1", 200.0, "critical", "called a premium number"),
               seen("c1", 250.0, "critical", "called a premium number again"),   # the same alert, later
               seen("a1", 300.0, "alert", "called abroad"),
               seen("w2", 400.0, "warning", "behaves unusually (latest)")]
    for seed in range(6):
        shuffled = records[:]
        random.Random(seed).shuffle(shuffled)
        (inc,) = fold(shuffled)[0].values()
        assert inc.severity == "critical" and inc.summary == "called a premium number", seed


def test_between_alerts_of_one_severity_the_summary_is_the_earlier_ones():
    book = IncidentBook()
    book.fold(_seen("late", 500.0, summary="later"))
    (inc,), _ = book.fold(_seen("early", 400.0, summary="earlier"))
    assert inc.summary == "earlier"
    assert book.fold(_seen("later-still", 550.0, summary="latest"))[0][0].summary == "earlier"
