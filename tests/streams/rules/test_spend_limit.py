"""spend_limit: money per sliding window, from completed calls and from calls in progress, in any order."""

import random
from pathlib import Path

import pytest

from streams.core.detector import Detector
from streams.policy import Policy, PolicyError
from tests.builders import actions, alerts, cdr, policy, run, run_any_order, sec

PREMIUM = "09098790000"  # a GB premium-rate number: 1.50 a minute in the shipped table
EXT_CAP = "spend_limits:\n  - {scope: extension, window: 15m, max_cost: 20}\n"


def calls(n: int, gap: float = 300, billsec: float = 290, **kw) -> list[dict]:
    return [cdr(t=i * gap, dst=PREMIUM, billsec=billsec, duration=billsec + 5, call_id=f"p{i}", **kw) for i in range(n)]


def spend(out):
    return alerts(out, "spend_limit")


def test_completed_calls_over_the_cap_fire_once_under_it_not():
    pol = policy(EXT_CAP)
    assert not spend(run(calls(2), pol))  # 2 x 7.25 = 14.50
    out = run(calls(3), pol)               # 21.75 within 15 min
    [a] = spend(out)
    assert a.subject_type == "extension" and a.subject == "1001"
    assert a.evidence["spent"] > 20 and a.evidence["top_destinations"][0]["destination"] == "+449098790000"
    # passed at 825 s (answer 605 + 220 s at 1.50 a minute), found within its 30 s bucket
    assert a.ts.isoformat().startswith("2026-03-04T10:13:45")
    assert [x.target for x in actions(out, "disable_outbound")][-1] == "1001"


def test_spread_out_calls_do_not_fire():
    assert not spend(run(calls(6, gap=900), policy(EXT_CAP)))  # one 7.25 call per window


@pytest.mark.parametrize("order", ["by_start", "by_end", "reversed", "shuffled"])
def test_same_alert_whatever_the_order(order):
    pol = policy(EXT_CAP)
    evs = calls(5, gap=200, billsec=400)
    want = [a.alert_id for a in spend(run(evs, pol))]
    assert want
    if order == "by_end":
        evs = sorted(evs, key=lambda e: (e["start"], -e["billsec"]))
    elif order == "reversed":
        evs = list(reversed(evs))
    elif order == "shuffled":
        random.Random(7).shuffle(evs)
    got = [a.alert_id for a in spend(run_any_order(evs, pol))]
    assert got == want  # the alert is named by rule, subject, limit and epoch: not by the call that tripped it


def test_a_redelivered_cdr_is_counted_once():
    pol = policy(EXT_CAP)
    two = calls(2)
    assert not spend(run(two + two + two, pol))


def test_cdr_cost_field_is_used_when_given():
    pol = policy(EXT_CAP)
    cheap = [cdr(t=i * 60, dst=PREMIUM, billsec=50, cost=9.0, call_id=f"c{i}") for i in range(3)]
    [a] = spend(run(cheap, pol))
    # 18.00 from the first two; the third's 9.00 over [120 s, 170 s] passes 20 in the bucket ending at 150 s
    assert a.evidence["spent"] == pytest.approx(18.0 + 9.0 * 30 / 50)


def test_unanswered_calls_cost_nothing():
    pol = policy(EXT_CAP)
    evs = [cdr(t=i * 10, dst=PREMIUM, billsec=0, duration=30, disposition="no_answer", call_id=f"n{i}") for i in range(50)]
    assert not spend(run(evs, pol))


def test_a_call_in_progress_is_cut_when_it_passes_the_cap():
    pol = policy(EXT_CAP)
    live = cdr(t=0, dst=PREMIUM, call_id="L1", phase="start")
    out = run([live, sec(t=2000, ip="10.0.0.5", outcome="success")], pol)
    [a] = spend(out)
    assert a.evidence["in_progress"] == ["L1"]
    assert 800 <= a.ts.timestamp() - 1772618400 <= 801  # 20 / 1.50 a minute = 800 s after it began
    assert "L1" in [x.target for x in actions(out, "hangup_call")]
    # the same call, ended before the cap: nothing
    out = run([live, cdr(t=0, dst=PREMIUM, call_id="L1", billsec=600, duration=600),
               sec(t=2000, ip="10.0.0.5", outcome="success")], pol)
    assert not spend(out)


def test_live_and_completed_calls_add_up():
    pol = policy(EXT_CAP)
    done = calls(2)  # 14.50 by 595 s
    live = cdr(t=600, dst=PREMIUM, call_id="L2", phase="start")  # 5.50 more takes 220 s
    out = run([*done, live, sec(t=1500, ip="10.0.0.5", outcome="success")], pol)
    [a] = spend(out)
    assert a.evidence["in_progress"] == ["L2"]
    assert a.ts.timestamp() - 1772618400 == pytest.approx(820, abs=1)


def test_destination_country_cap_blocks_the_country_code():
    pol = policy("spend_limits:\n  - {scope: destination_country, window: 1h, max_cost: 10}\n")
    # two extensions calling Latvian premium numbers (3.20 a minute): the cap is per country, tenant-wide
    evs = [cdr(t=i * 120, src=f"10{i % 2}1", dst="0037190012345", billsec=100, call_id=f"lv{i}") for i in range(3)]
    out = run(evs, pol)
    [a] = spend(out)
    assert (a.subject_type, a.subject) == ("country", "LV")
    assert [(x.target, x.duration_s) for x in actions(out, "block_number") if x.alert_id == a.alert_id] == [("+371", 3600)]


def test_tenant_cap_routes_outbound_calls_to_the_tenant_key():
    evt = cdr(dst=PREMIUM, billsec=60)
    from streams.domain.events import decode_event, encode
    e = decode_event(encode(evt))
    assert "tenant" not in Detector.keys_for(e, policy(EXT_CAP))
    assert "tenant" in Detector.keys_for(e, policy("spend_limits:\n  - {scope: tenant, window: 24h, max_cost: 50}\n"))
    evs = [cdr(t=i * 600, src=f"2{i:03d}", dst=PREMIUM, billsec=590, call_id=f"t{i}") for i in range(5)]
    [a] = spend(run(evs, policy("spend_limits:\n  - {scope: tenant, window: 24h, max_cost: 50}\n")))
    assert (a.subject_type, a.subject) == ("tenant", "default")


def test_trunk_cap():
    pol = policy("spend_limits:\n  - {scope: trunk, window: 1h, max_cost: 30}\n")
    evs = [cdr(t=i * 60, src=f"3{i:03d}", dst=PREMIUM, billsec=600, trunk="sip-out", call_id=f"k{i}") for i in range(3)]
    [a] = spend(run(evs, pol))
    assert (a.subject_type, a.subject) == ("trunk", "sip-out")


def test_a_policy_names_its_own_rate_table(tmp_path: Path):
    (tmp_path / "rates.csv").write_text("country,number_type,usd_per_min\n*,*,10\n")
    (tmp_path / "policy.yaml").write_text("home_country: GB\nnational_prefix: '0'\nrates: rates.csv\n" + EXT_CAP)
    pol = Policy.load(tmp_path / "policy.yaml")
    assert pol.tenant("default").rates.per_minute(pol.tenant("default").numbers.classify("02079460000")) == 10
    out = run([cdr(dst="02079460000", billsec=150)], pol)  # 25.00 at 10 a minute
    assert spend(out)


def test_an_unreadable_rate_table_is_a_policy_error_with_its_line(tmp_path: Path):
    (tmp_path / "rates.csv").write_text("country,number_type,usd_per_min\nGB,mobile,cheap\n")
    (tmp_path / "policy.yaml").write_text("home_country: GB\nrates: rates.csv\n")
    with pytest.raises(PolicyError, match=r"policy.yaml:2: rates: cannot read the rate table: .*rates.csv:2"):
        Policy.load(tmp_path / "policy.yaml")
    (tmp_path / "policy.yaml").write_text("home_country: GB\nrates: missing.csv\n")
    with pytest.raises(PolicyError, match="cannot read the rate table"):
        Policy.load(tmp_path / "policy.yaml")


@pytest.mark.parametrize("window,seconds", [("15m", 900), ("24h", 86400), ("1d", 86400), (90, 90), ("45s", 45)])
def test_windows_take_units(window, seconds):
    pol = policy(f"spend_limits:\n  - {{scope: extension, window: {window}, max_cost: 5}}\n")
    assert pol.tenant("default").settings.spend_limits[0].window == seconds


@pytest.mark.parametrize("bad", ["{scope: extension, window: soon, max_cost: 5}",
                                 "{scope: extension, window: 15m, max_cost: 0}",
                                 "{scope: planet, window: 15m, max_cost: 5}"])
def test_bad_limits_are_refused(bad):
    with pytest.raises(PolicyError, match="spend_limits"):
        policy(f"spend_limits:\n  - {bad}\n")


def test_state_stays_bounded_for_a_busy_extension():
    pol = policy(EXT_CAP)
    det = Detector(pol)
    from streams.domain.events import decode_event, encode
    for i in range(3000):  # cheap national calls, one a minute for two days
        det.feed(decode_event(encode(cdr(t=i * 60, dst="02079460000", billsec=50, call_id=f"b{i}"))))
    w = next(iter(det.state["ext:default/1001"].spend_limit.values()))
    assert len(w.calls) < 500 and len(w.buckets) < 800


def test_a_completed_call_that_only_joins_the_open_incident_works_out_no_figures(monkeypatch):
    """A later call over the cap joins the open incident, which keeps the summary of its earliest detection:
    the destinations' costs are worked out only for a detection that may become that (the alert, and the
    next two here, each dated earlier as the calls' spend spreads back over their durations), not for the
    three that join after it (before: for all six; on a busy tenant the hottest function of a replay)."""
    from streams.rules import spend_limit
    worked = []
    real = spend_limit._by_destination
    monkeypatch.setattr(spend_limit, "_by_destination", lambda *a: worked.append(1) or real(*a))
    out = run(calls(8, gap=60), policy(EXT_CAP))
    assert len(spend(out)) == 1 and len(worked) == 3
