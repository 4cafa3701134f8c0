"""account_takeover: a sign-in from something new, then a risky call within the window; either half alone is ordinary."""

import random

import pytest

from streams.core import Detector
from streams.events import decode_event, encode
from streams.rules.account_takeover import KEEP_NAMES, family
from tests.builders import actions, alerts, cdr, policy, reg, run, run_any_order, sec

DAY = 86400
HISTORY = [reg(t=h * 3600) for h in range(48)]  # two days of a desk phone re-registering from the LAN
ABROAD = "0033142868200"


def login(t, ip="198.51.100.9", ua="Mozilla/5.0 (X11; Linux x86_64)"):
    return sec(t=t, ip=ip, service="web", action="login", account="1001", outcome="success", user_agent=ua)


def takeovers(out):
    return alerts(out, "account_takeover")


def test_new_address_then_a_call_abroad_is_one_alert_with_both_halves():
    out = run([*HISTORY, login(2 * DAY + 100), cdr(t=2 * DAY + 1000, dst=ABROAD, billsec=300),
               cdr(t=2 * DAY + 1500, dst=ABROAD, billsec=300, call_id="second")])
    [a] = takeovers(out)
    assert a.severity == "critical" and a.subject == "1001"
    assert a.evidence["sign_in"]["src_ip"] == "198.51.100.9" and a.evidence["sign_in"]["kind"] == "login"
    assert a.evidence["sign_in"]["new"] == "address and user agent"
    assert a.evidence["call"]["dst"] == "+33142868200"
    mine = {(x.kind, x.target) for x in actions(out) if x.alert_id == a.alert_id}
    assert mine >= {("lock_account", "default/1001"), ("disable_outbound", "1001"), ("block_ip", "198.51.100.9")}


@pytest.mark.parametrize("events", [
    [login(2 * DAY + 100)],                                                # a new sign-in, no call
    [cdr(t=2 * DAY + 1000, dst=ABROAD, billsec=300)],                      # a call abroad, nothing new before it
    [cdr(t=2 * DAY, dst=ABROAD, billsec=300), login(2 * DAY + 100)],       # the call came first
    [login(2 * DAY + 100), cdr(t=2 * DAY + 100 + 7300, dst=ABROAD, billsec=300)],  # after the 2 h window
    [login(2 * DAY + 100), cdr(t=2 * DAY + 1000, dst="02079460000", billsec=300)],  # a cheap national call
    [login(2 * DAY + 100), cdr(t=2 * DAY + 1000, dst=ABROAD, billsec=0, disposition="no_answer")],
])
def test_either_half_alone_is_ordinary(events):
    assert not takeovers(run([*HISTORY, *events]))


def test_an_account_still_being_learnt_raises_nothing():
    assert not takeovers(run([reg(t=0), login(3600), cdr(t=4000, dst=ABROAD, billsec=300)]))


def test_an_address_used_within_new_for_is_not_new():
    seen = login(DAY)  # the same address and browser a day earlier
    assert not takeovers(run([*HISTORY, seen, login(2 * DAY + 100), cdr(t=2 * DAY + 1000, dst=ABROAD, billsec=60)]))
    pol = policy("account_takeover: {new_for: 12h}")
    assert takeovers(run([*HISTORY, seen, login(2 * DAY + 100), cdr(t=2 * DAY + 1000, dst=ABROAD, billsec=60)], pol))


def test_a_new_phone_on_the_lan_or_a_firmware_update_is_not_a_takeover():
    new_desk_phone = reg(t=2 * DAY, ua="Grandstream GRP2614 1.0.5.67")
    assert not takeovers(run([*HISTORY, new_desk_phone, cdr(t=2 * DAY + 600, dst=ABROAD, billsec=60)]))
    assert family("Yealink SIP-T46S 66.86.0.15") == family("Yealink SIP-T46S 66.86.0.160")
    # the same remote phone after a firmware update, from an address it used yesterday: nothing new
    remote = [reg(t=DAY + 3600 * h, ip="203.0.113.50", ua="Yealink SIP-T46S 66.86.0.15") for h in range(3)]
    update = reg(t=2 * DAY + 50, ip="203.0.113.50", ua="Yealink SIP-T46S 66.86.0.160")
    assert not takeovers(run([*HISTORY, *remote, update, cdr(t=2 * DAY + 600, dst=ABROAD, billsec=60)]))


def test_a_premium_number_or_a_costly_destination_counts_too():
    assert takeovers(run([*HISTORY, login(2 * DAY), cdr(t=2 * DAY + 60, dst="09098790000", billsec=60)]))


def test_a_live_call_is_hung_up():
    out = run([*HISTORY, login(2 * DAY), cdr(t=2 * DAY + 60, dst=ABROAD, call_id="live", phase="start")])
    [a] = takeovers(out)
    assert ("hangup_call", "live") in {(x.kind, x.target) for x in actions(out) if x.alert_id == a.alert_id}


@pytest.mark.parametrize("seed", range(4))
def test_the_same_alert_whichever_half_arrives_first(seed):
    events = [*HISTORY, login(2 * DAY + 100), cdr(t=2 * DAY + 1000, dst=ABROAD, billsec=300)]
    want = [a.alert_id for a in takeovers(run(events))]
    tail = events[-2:]
    random.Random(seed).shuffle(tail)
    got = [a.alert_id for a in takeovers(run_any_order([*HISTORY, *reversed(tail)]))]
    assert got == want and want


def test_state_is_bounded_under_a_spray_of_successful_sign_ins():
    det = Detector(policy(""))
    for ev in HISTORY:
        det.feed(decode_event(encode(ev)))
    for i in range(2000):
        det.feed(decode_event(encode(login(2 * DAY + i, ip=f"198.51.{i // 250}.{i % 250 + 1}", ua=f"agent {i}x"))))
    st = det.state["ext:default/1001"].account_takeover
    assert len(st.ips) <= KEEP_NAMES and len(st.agents) <= KEEP_NAMES and len(st.fresh) <= 8
    assert all(len(v) <= 4 for v in st.ips.values())
