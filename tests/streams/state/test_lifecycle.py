"""Keys are forgotten when their state stops mattering, a scope never holds more than its budget,
and nothing a key still needs is lost."""

import json

from streams.core.detector import Detector
from streams.domain.events import decode_event
from streams.policy import Policy
from streams.state import BufferedState
from tests.builders import alerts, cdr, policy, reg, sec


def feed(det, events):
    out = []
    for ev in events:
        out += det.feed(decode_event(json.dumps(ev).encode()))
    return out


def ip_keys(store) -> int:
    return sum(1 for k in store if k.startswith("ip:"))


def test_a_flood_of_distinct_ips_is_forgotten_once_its_windows_are_over():
    det = Detector(policy())
    day = 86400
    flood = [sec(t=i * 4.0, ip=f"198.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", action="register", account="1001")
             for i in range(60_000)]  # 60k distinct sources over 66 hours, one failed registration each
    feed(det, flood)
    kept = ip_keys(det.state)
    assert det.keys.expired > 20_000 and kept < 35_000  # about 30 h of sources are kept (the 24 h login ban)
    feed(det, [sec(t=5 * day, ip="192.0.2.1", action="register", account="1001")])  # days later
    assert ip_keys(det.state) == 1, "every source of the flood is forgotten"
    assert det.keys.counts["ip"] == 1


def test_the_key_budget_evicts_oldest_first_and_counts():
    det = Detector(policy(), max_keys=1_000)
    feed(det, [sec(t=i * 0.01, ip=f"198.51.{i >> 8}.{i & 255}", action="register", account="1001")
               for i in range(5_000)])
    assert ip_keys(det.state) == 1_000 and det.keys.evicted == 4_000
    assert "ip:198.51.19.135" in det.state and "ip:198.51.0.0" not in det.state  # the newest stayed


def test_a_key_that_holds_nothing_is_never_written_and_one_that_empties_goes_at_its_expiry():
    from streams.state import IpState, TimeSet
    from streams.state.lifecycle import KeyLifecycle
    keys, store, tenant = KeyLifecycle(), {}, Policy.default().tenant("default")
    keys.write(store, "ip:192.0.2.1", "ip", IpState(), tenant, 100.0)
    assert store == {} and len(keys) == 0
    st = IpState(login_lockout=TimeSet())
    st.login_lockout.add(100.0, 1)
    keys.write(store, "ip:192.0.2.1", "ip", st, tenant, 100.0)
    assert "ip:192.0.2.1" in store and len(keys) == 1 and store["ip:192.0.2.1"].last == 100.0
    keys.write(store, "ip:192.0.2.1", "ip", IpState(last=100.0), tenant, 200.0)  # emptied: goes at its expiry
    assert keys.expire(store, tenant, 200.0 + tenant.retention["ip"] - 1000) == 0 and "ip:192.0.2.1" in store
    assert keys.expire(store, tenant, 200.0 + tenant.retention["ip"] + 1000) == 1
    assert store == {} and len(keys) == 0 and keys.counts["ip"] == 0


def test_a_detection_spanning_the_retention_still_fires():
    # the login ban counts 20 failures over 24 h: state must survive between failures hours apart
    evs = [sec(t=i * 3600.0, ip="203.0.113.50", service="web", action="login", account="admin") for i in range(21)]
    out = feed(Detector(policy()), evs)
    assert [a for a in alerts(out, "login_lockout") if a.evidence["permanent"]]


def test_expired_keys_become_tombstones_for_the_changelog():
    store: dict = {}
    det = Detector(policy(), state=BufferedState(store))
    feed(det, [sec(t=0, ip="198.51.100.7", action="register", account="1001")])
    written = []
    det.state.flush(lambda k, v: (written.append((k, v)), store.__setitem__(k, v)))
    assert ("ip:198.51.100.7" in store) and written
    feed(det, [sec(t=5 * 86400, ip="192.0.2.9", action="register", account="1001")])
    tomb = []
    det.state.flush(lambda k, v: tomb.append((k, v)))
    assert ("ip:198.51.100.7", None) in tomb


def test_expiry_is_rebuilt_after_a_restart():
    store: dict = {}
    det = Detector(policy(), state=BufferedState(store))
    feed(det, [sec(t=0, ip="198.51.100.7", action="register", account="1001")])
    det.state.flush()
    again = Detector(policy(), state=BufferedState(store))
    again.rebuild_timers()
    assert again.keys.counts["ip"] == 1
    feed(again, [sec(t=5 * 86400, ip="192.0.2.9", action="register", account="1001")])
    again.state.flush()
    assert "ip:198.51.100.7" not in store


def test_tenants_unknown_to_the_policy_are_bounded():
    pol = Policy.default()
    for i in range(25_000):
        assert pol.tenant(f"t{i}").name == f"t{i}"
    assert len(pol._unknown) <= Policy.MAX_UNKNOWN
    t = pol.tenant("someone-new")
    assert t.settings is pol.tenant("default").settings  # shares the base settings, compiled once


def test_calls_of_a_quiet_extension_are_kept_while_they_can_matter():
    det = Detector(policy("extensions: {defaults: {international: true}}"))
    feed(det, [cdr(t=0, src="1001", dst="00442079460000", billsec=30)])
    feed(det, [sec(t=3600, ip="192.0.2.9", action="register", account="2002")])
    assert "ext:default/1001" in det.state  # within its retention: the daily count still needs it


def test_a_busy_old_key_outlives_a_flood_of_new_ones_under_the_budget():
    det = Detector(policy(), max_keys=300)
    evs = []
    for i in range(3000):
        evs.append(sec(t=i * 30.0, ip=f"198.18.{i >> 8}.{i & 255}", action="register", account="1001"))
        if i % 10 == 0:  # the office's NAT address, seen from the start and all along
            evs.append(sec(t=i * 30.0 + 1, ip="203.0.113.200", outcome="success", action="register", account="1002"))
    feed(det, evs)
    assert det.keys.evicted > 0 and ip_keys(det.state) <= 300
    assert "ip:203.0.113.200" in det.state
