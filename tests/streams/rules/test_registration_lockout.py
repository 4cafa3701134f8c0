"""registration_lockout: boundaries and behaviour."""
import pytest
from tests.builders import actions, alerts, policy, run, sec


def reg_fail(t, ip="203.0.113.7", account="1001"):
    return sec(t=t, ip=ip, action="register", account=account, outcome="failure")


@pytest.mark.parametrize("n,fires", [(9, False), (10, True)])
def test_registration_lockout_default_ten_in_ten_minutes(n, fires):
    out = run([reg_fail(i * 30) for i in range(n)])
    a = alerts(out, "registration_lockout")
    assert bool(a) is fires
    if fires:
        assert a[0].severity == "alert" and "Extension Registration Blocked Out" in a[0].summary
        assert actions(out, "block_ip")[0].duration_s == 600
        assert actions(out, "lock_account")[0].target == "default/1001"

def test_failures_spread_beyond_the_window_do_not_lock():
    assert not alerts(run([reg_fail(i * 70) for i in range(10)]), "registration_lockout")  # 630 s span

def test_lan_source_is_alerted_but_never_blocked():
    out = run([reg_fail(i, ip="192.168.1.20") for i in range(10)])
    assert alerts(out, "registration_lockout")
    assert not actions(out, "block_ip")
    assert "not_blocked" in alerts(out, "registration_lockout")[0].evidence

def test_static_accept_rule_is_never_overridden():
    pol = policy("static_defense:\n  - {name: office, source: 198.51.100.0/24, action: accept}")
    out = run([reg_fail(i, ip="198.51.100.9") for i in range(10)], pol)
    assert alerts(out, "registration_lockout") and not actions(out, "block_ip")

def test_blocked_ip_events_join_the_incident():
    evs = [reg_fail(i) for i in range(40)]
    out = run(evs)
    assert len(alerts(out)) == 1  # one lockout alert, the next 30 failures are counted into it

def test_after_the_block_expires_a_new_incident_opens():
    evs = [reg_fail(i) for i in range(10)] + [reg_fail(700 + i) for i in range(10)]
    assert len(alerts(run(evs), "registration_lockout")) == 2
