import pytest
from tests.builders import actions, alerts, cdr, policy, run, sec


@pytest.mark.parametrize("billsec,fires", [(10800, False), (10801, True)])
def test_completed_call_against_global_limit(billsec, fires):
    out = run([cdr(billsec=billsec)])
    assert bool(alerts(out, "call_duration")) is fires


def test_per_extension_outbound_limit():
    pol = policy("extensions:\n  '1001': {max_outbound_duration: 300}")
    assert not alerts(run([cdr(billsec=300)], pol), "call_duration")
    assert alerts(run([cdr(billsec=301)], pol), "call_duration")
    # the per-extension limit is for outbound calls only
    assert not alerts(run([cdr(billsec=301, direction="internal", dst="1002")], pol), "call_duration")


def test_duration_from_end_minus_start_when_no_billsec():
    from tests.builders import at
    assert alerts(run([cdr(end=at(10801))]), "call_duration")
    assert not alerts(run([cdr(end=at(10800))]), "call_duration")


def test_live_call_is_hung_up_when_a_later_event_passes_the_limit():
    pol = policy("extensions:\n  '1001': {max_outbound_duration: 300}")
    start = cdr(t=0, call_id="live1", phase="start")
    # any later event advances event time; at exactly the limit nothing happens yet
    out = run([start, sec(t=300, ip="10.0.0.5", outcome="success")], pol)
    assert not actions(out, "hangup_call")
    out = run([start, sec(t=301, ip="10.0.0.5", outcome="success")], pol)
    hang = actions(out, "hangup_call")
    assert [a.target for a in hang] == ["live1"]
    assert alerts(out, "call_duration")[0].ts.timestamp() == pytest.approx(alerts(out)[0].ts.timestamp())


def test_live_call_that_ends_in_time_is_not_cut():
    pol = policy("extensions:\n  '1001': {max_outbound_duration: 300}")
    out = run([cdr(t=0, call_id="k", phase="start"), cdr(t=0, call_id="k", billsec=200, duration=210),
               sec(t=5000, ip="10.0.0.5", outcome="success")], pol)
    assert not alerts(out, "call_duration")


def test_hung_up_call_does_not_alert_again_at_its_end():
    pol = policy("extensions:\n  '1001': {max_outbound_duration: 300}")
    out = run([cdr(t=0, call_id="k", phase="start"), sec(t=400, ip="10.0.0.5", outcome="success"),
               cdr(t=0, call_id="k", billsec=450, duration=460)], pol)
    assert len(alerts(out, "call_duration")) == 1
