"""PII masking: alerts, action reasons and dead letters pseudonymised; detection and action targets clear."""

import json

import pytest

from streams.kafka.dlq import dead_letter
from streams.policy import PolicyError
from streams.reference.privacy import Privacy
from tests.builders import actions, alerts, cdr, policy, reg, run, sec

SALT = "a-test-salt-of-enough-length"
PRIV = "privacy: {mask_numbers: last4, hash_ips: true}\nextensions: {defaults: {international: false}}"


def test_numbers_keep_their_last_four_digits_and_ips_become_stable_tokens():
    p = Privacy("last4", True, b"s" * 16)
    out = p.text("Extension 1001 called +255222110000 from 203.0.113.7 and 2001:db8::1 at 10:00:00")
    assert "+xxxxxxxx0000" in out and "1001" in out and "203.0.113.7" not in out and "2001:db8" not in out
    assert "10:00:00" in out
    assert p.text("203.0.113.7") == p.text("203.0.113.7") != Privacy("last4", True, b"t" * 16).text("203.0.113.7")
    assert Privacy("all").text("call to 020 7946 0000") == "call to xxxxxxxxxxx"
    assert p.value({"call_id": "1700000000.1234", "dst": "00255222110000", "n": 5}) == \
        {"call_id": "1700000000.1234", "dst": "xxxxxxxxxx0000", "n": 5}


def test_alerts_are_masked_and_actions_still_name_the_real_target(monkeypatch):
    monkeypatch.setenv("TOLLGUARD_PII_SALT", SALT)
    out = run([cdr(dst="00255222110000", billsec=60, src_ip="203.0.113.7", call_id="a8f1@203.0.113.7")], policy(PRIV))
    a = alerts(out, "international_disallowed")[0]
    text = json.dumps({"s": a.subject, "m": a.summary, "e": a.evidence})
    assert "255222110000" not in text and "0000" in a.summary and "203.0.113.7" not in text
    assert a.evidence["call_id"].startswith("a8f1@ip:")
    bars = actions(out, "disable_outbound")
    assert bars and bars[0].target == "1001" and "255222110000" not in bars[0].reason


def test_ip_alerts_are_pseudonymised_but_the_block_is_real(monkeypatch):
    monkeypatch.setenv("TOLLGUARD_PII_SALT", SALT)
    out = run([reg(t=i, ip="198.51.100.23", outcome="failure") for i in range(10)], policy(PRIV))
    a = alerts(out, "registration_lockout")[0]
    assert a.subject.startswith("ip:") and "198.51.100.23" not in json.dumps([a.summary, a.evidence])
    assert [x.target for x in actions(out, "block_ip")] == ["198.51.100.23"]
    clear = alerts(run([reg(t=i, ip="198.51.100.23", outcome="failure") for i in range(10)]), "registration_lockout")
    assert clear[0].alert_id == a.alert_id  # the same incident identity, masked or not


def test_hashing_without_a_secret_is_refused_when_the_policy_loads(monkeypatch):
    monkeypatch.delenv("TOLLGUARD_PII_SALT", raising=False)
    with pytest.raises(PolicyError, match="TOLLGUARD_PII_SALT"):
        policy("privacy: {hash_ips: true}")
    policy("privacy: {mask_numbers: last4}")  # masking needs no secret


def test_dead_letters_are_masked_without_the_byte_copy():
    p = Privacy("last4", True, b"s" * 16)
    raw = json.dumps(sec(ip="203.0.113.7", account="00441234567890")).encode()
    rec = json.loads(dead_letter(raw, "bad 203.0.113.7", privacy=p))
    assert rec["masked"] and "raw_b64" not in rec and "203.0.113.7" not in json.dumps(rec)
    assert "xxxxxxxxxx7890" in rec["raw"]
    assert "raw_b64" in json.loads(dead_letter(raw, "bad"))
