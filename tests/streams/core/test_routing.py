"""The tenant key sees only what a rule of the tenant scope asks for (``Detector.keys_for``, each rule's ``routes``).

A tenant has one key, so one partition and one core judge everything that reaches it: an event no rule
of that scope judges must not be sent there."""
from streams.core.detector import Detector
from streams.domain.events import decode_event, encode
from tests.builders import cdr, policy, sec


def keys(ev: dict, pol=None) -> dict:
    return Detector.keys_for(decode_event(encode(ev)), pol or policy())


def test_failed_registrations_reach_the_tenant_key_while_distributed_lockout_runs():
    failed = sec(action="register", account="1001")
    assert "tenant" in keys(failed)
    assert "tenant" not in keys(failed, policy("rules:\n  distributed_lockout: {mode: 'off'}\n"))


def test_a_failure_that_is_no_sign_in_and_names_no_number_stays_off_the_tenant_key():
    """Before, every failure went to the tenant key, where no rule judged this one (found: 1 of 1 such events)."""
    assert "tenant" not in keys(sec(service="ami", action="originate", outcome="failure"))
    refused = sec(service="sip", action="invite", outcome="failure", dialled="0044207946000")
    assert "tenant" in keys(refused)  # a refused call naming its number: route_scan and inbound_probe judge it


def test_only_unanswered_inbound_calls_reach_the_tenant_key():
    assert "tenant" in keys(cdr(direction="inbound", src="+442079460000", dst="2000", billsec=0))
    assert "tenant" not in keys(cdr(direction="inbound", src="+442079460000", dst="2000", billsec=30))
    assert "tenant" not in keys(cdr(direction="inbound", phase="start", src="+442079460000", dst="2000"))


def test_outbound_calls_reach_the_tenant_key_for_a_tenant_wide_cap_or_a_callback_watch():
    call = cdr(dst="02079460000")  # a national call: no callback to watch
    assert "tenant" not in keys(call)
    assert "tenant" in keys(call, policy("spend_limits:\n  - {scope: tenant, window: 24h, max_cost: 50}\n"))
    abroad = cdr(dst="0033140000000")
    assert "tenant" in keys(abroad)  # wangiri_inbound watches calls abroad
    assert "tenant" not in keys(abroad, policy("rules:\n  wangiri_inbound: {mode: 'off'}\n"))


def test_with_no_policy_the_default_policy_decides():
    ev = decode_event(encode(sec(action="register", account="1001")))
    assert Detector.keys_for(ev) == Detector.keys_for(ev, policy())
