"""custom: the operator's own rules (policy `rules:` with `kind:`), their windows and their checks."""

import random

import pytest

from streams.policy import Policy
from streams.policy.loader import PolicyError
from streams.rules.custom import MAX_WINDOWS
from tests.builders import actions, alerts, cdr, policy, run, run_any_order, sec

PER_COUNTRY = """
rules:
  calls_to_one_country:
    kind: event_count
    events: cdr
    key: extension
    where: {direction: outbound}
    group_by: [dst_country]
    seconds: 1h
    threshold: 3
    severity: alert
    actions: [disable_outbound]
"""

DESTINATIONS = """
rules:
  trunk_destinations:
    kind: value_count
    events: cdr
    key: trunk
    field: dst
    seconds: 10m
    threshold: 4
"""

FAILED_FROM_SOURCE = """
rules:
  failed_calls_per_source:
    kind: event_count
    events: cdr
    key: source_ip
    where: {disposition: [failed, busy, no_answer]}
    seconds: 60
    threshold: 5
"""

TALK_TIME = """
rules:
  talk_time_per_extension:
    kind: value_sum
    events: cdr
    key: extension
    field: billsec
    seconds: 1h
    threshold: 1800
"""

FR = "+33 1 40 00 00 {:02d}"
DE = "+49 30 1234 {:04d}"


def calls(n, dst=FR, gap=60, **kw):
    return [cdr(t=i * gap, dst=dst.format(i), call_id=f"{dst[:3]}{i}", **kw) for i in range(n)]


def test_event_count_fires_above_the_threshold_per_group():
    pol = policy(PER_COUNTRY)
    assert not alerts(run(calls(3), pol), "calls_to_one_country")  # 3 is not more than 3
    got = alerts(run(calls(4), pol), "calls_to_one_country")
    assert len(got) == 1 and got[0].severity == "alert" and got[0].subject == "1001"
    assert got[0].evidence["group"] == {"dst_country": "FR"} and got[0].evidence["measure"] == 4
    mixed = calls(2) + calls(2, dst=DE)  # two countries: neither has more than 3
    assert not alerts(run(mixed, pol), "calls_to_one_country")
    assert ("disable_outbound", "1001") in [(a.kind, a.target) for a in actions(run(calls(4), pol))]


def test_the_window_slides():
    pol = policy(PER_COUNTRY)
    assert not alerts(run(calls(4, gap=1300), pol), "calls_to_one_country")  # never 4 within an hour
    assert alerts(run(calls(4, gap=1190), pol), "calls_to_one_country")


def test_value_count_counts_distinct_values_once_each():
    pol = policy(DESTINATIONS)
    same = [cdr(t=i, dst="+33 1 40 00 00 01", call_id=f"s{i}", trunk="sip-out") for i in range(20)]
    assert not alerts(run(same, pol), "trunk_destinations")
    many = [cdr(t=i, dst=FR.format(i), call_id=f"d{i}", trunk="sip-out") for i in range(5)]
    got = alerts(run(many, pol), "trunk_destinations")
    assert [(a.subject_type, a.subject, a.evidence["measure"]) for a in got] == [("trunk", "sip-out", 5)]


def test_filters_on_the_pbx_s_own_fields():
    pol = policy(FAILED_FROM_SOURCE)
    failed = [cdr(t=i, call_id=f"f{i}", src_ip="198.51.100.7", disposition="failed", billsec=0) for i in range(6)]
    answered = [cdr(t=i, call_id=f"a{i}", src_ip="198.51.100.8", disposition="answered", billsec=30) for i in range(9)]
    got = alerts(run(failed + answered, pol), "failed_calls_per_source")
    assert [a.subject for a in got] == ["198.51.100.7"]


def test_value_sum_adds_completed_calls_only_once_each():
    pol = policy(TALK_TIME)
    done = [cdr(t=i * 60, call_id=f"t{i}", billsec=400, duration=410) for i in range(5)]  # 2,000 s of talk
    got = alerts(run(done, pol), "talk_time_per_extension")
    assert len(got) == 1 and got[0].evidence["measure"] == 2000
    twice = done[:4] + done[:4]  # 1,600 s, each call delivered twice: still 1,600
    assert not alerts(run(twice, pol), "talk_time_per_extension")


@pytest.mark.parametrize("seed", range(4))
def test_any_arrival_order_gives_the_same_alerts(seed):
    pol = policy(PER_COUNTRY)
    evs = calls(9, gap=400) + calls(5, dst=DE, gap=700)
    want = sorted(a.alert_id for a in alerts(run(sorted(evs, key=lambda e: e["start"]), pol)))
    shuffled = evs[:]
    random.Random(seed).shuffle(shuffled)
    assert sorted(a.alert_id for a in alerts(run_any_order(shuffled, pol))) == want


def test_a_forged_udp_source_is_alerted_but_never_blocked():
    pol = policy("""
rules:
  many_failures:
    kind: event_count
    events: security
    key: source_ip
    where: {outcome: failure}
    seconds: 60
    threshold: 3
    actions: [block_ip]
""")
    forged = [sec(t=i, ip="203.0.113.50", protocol="udp", round_trip=False, account=f"9{i}") for i in range(5)]
    out = run(forged, pol)
    assert alerts(out, "many_failures") and not actions(out, "block_ip")  # anyone can send these
    proven = [sec(t=i, ip="203.0.113.51", protocol="tcp", account=f"9{i}") for i in range(5)]
    assert [a.target for a in actions(run(proven, pol), "block_ip")] == ["203.0.113.51"]


def test_modes_switch_one_rule_or_all_of_them():
    assert not alerts(run(calls(5), policy(PER_COUNTRY + "    mode: off\n")), "calls_to_one_country")
    report = run(calls(5), policy(PER_COUNTRY + "    mode: report\n"))
    assert alerts(report, "calls_to_one_country")[0].mode == "report"
    assert not alerts(run(calls(5), policy(PER_COUNTRY + "  custom: {mode: off}\n")), "calls_to_one_country")


def test_hostile_group_values_stay_bounded():
    pol = policy("""
rules:
  agents:
    kind: event_count
    events: security
    key: source_ip
    group_by: [user_agent]
    seconds: 60
    threshold: 100
""")
    from streams.core.detector import Detector
    from tests.builders import decode_event, encode
    det = Detector(pol)
    for i in range(MAX_WINDOWS + 300):
        det.feed(decode_event(encode(sec(t=i / 100, ip="203.0.113.9", user_agent=f"x{i}" * 100))))
    st = det.state.get("ip:203.0.113.9")
    assert len(st.custom) <= MAX_WINDOWS
    assert all(len(k) < 200 for k in st.custom)


@pytest.mark.parametrize("body, said", [
    ("  premium_rat: {mode: report}\n", "did you mean premium_rate"),
    ("  mine: {kind: event_count, events: cdr, key: trunk, seconds: 60, threshold: 1, where: {colour: red}}\n",
     "cdr events have no field 'colour'"),
    ("  mine: {kind: value_sum, events: cdr, key: trunk, field: dst, seconds: 60, threshold: 1}\n",
     "value_sum adds numbers"),
    ("  mine: {kind: value_count, events: cdr, key: trunk, seconds: 60, threshold: 1}\n", "needs `field`"),
    ("  mine: {kind: event_count, events: cdr, key: trunk, seconds: 60, threshold: 1, actions: [block_ip]}\n",
     "block_ip needs key source_ip"),
    ("  mine: {kind: event_count, events: security, key: trunk, seconds: 60, threshold: 1}\n",
     "key trunk is not on security events"),
    ("  premium_rate: {kind: event_count, events: cdr, key: trunk, seconds: 60, threshold: 1}\n", "built-in rule"),
    ("  Mine: {kind: event_count, events: cdr, key: trunk, seconds: 60, threshold: 1}\n", "a rule's name"),
    ("  mine: {kind: event_count, events: cdr, key: trunk, seconds: 60, threshold: 1.5}\n", "whole number"),
])
def test_mistakes_are_refused_with_the_file_and_line(body, said):
    with pytest.raises(PolicyError) as err:
        Policy.from_yaml("home_country: GB\nrules:\n" + body, "p.yaml")
    text = "; ".join(err.value.problems)
    assert said in text and "p.yaml:3:" in text, text
