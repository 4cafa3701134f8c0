"""docs/kamailio/tollguard-security-log.cfg's `tollguard-sec/1` lines read by the kamailio-log parser (issue 26.1).

The line puts what Kamailio writes ($si, $sp, $pr, the time, the event) first and percent-encodes
what the sender wrote (method, user, User-Agent); these tests hold the parser to that: the source is
always the address at its fixed place, and a line whose sender fields are not encoded is refused.
tests/system/test_kamailio_seclog.py checks the same against lines a real Kamailio wrote.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from streams.domain.events import SecurityEvent, decode_event
from streams.intake import Converter
from streams.intake.common import AdapterError
from streams.intake.seclog import LogState, parse_line, sniff_line

UTC = ZoneInfo("UTC")
HEAD = " 1(4242) WARNING: <script>: "
SYSLOG = "Dec  6 16:11:10 sbc1 /usr/sbin/kamailio[4242]: WARNING: <script>: "
T = "time=1796573585 usec=221053"
WHEN = datetime(2026, 12, 6, 16, 13, 5, 221053, tzinfo=timezone.utc).isoformat()


def line(event="auth-failed", reason="wrong-password", src="src=203.0.113.66 port=5071 proto=udp", method="REGISTER",
         user="1001", ua="friendly-scanner", head=HEAD) -> str:
    return f"{head}tollguard-sec/1 event={event} reason={reason} {src} {T} method={method} user={user} ua={ua}"


def parse(text: str, state: LogState | None = None) -> dict | None:
    ev = parse_line("kamailio-log", text, state or LogState(UTC, "acme"))
    if ev is not None:
        assert isinstance(decode_event(json.dumps(ev).encode()), SecurityEvent)  # the contract takes it
    return ev


def test_wrong_password_is_a_proven_failure_of_that_account_from_that_address():
    assert parse(line()) == {
        "type": "security", "tenant": "acme", "ts": WHEN, "service": "sip", "src_ip": "203.0.113.66",
        "outcome": "failure", "action": "register", "account": "1001", "user_agent": "friendly-scanner",
        "protocol": "udp", "port": 5071, "reason": "wrong password", "round_trip": True}


@pytest.mark.parametrize("event,reason,outcome,why,proven", [
    ("auth-failed", "unknown-user", "failure", "unknown user", True),  # the nonce was bound to $si: it answered
    ("auth-failed", "user-mismatch", "failure", "authenticated as another user than the To or From user", True),
    ("auth-ok", "ok", "success", None, True),
    ("pike", "flood", "failure", "pike flood block", False),            # the first packet: UDP proves nothing
    ("acl", "denied-source", "failure", "refused by ACL", False),
])
def test_each_event(event, reason, outcome, why, proven):
    ev = parse(line(event, reason))
    assert (ev["outcome"], ev.get("reason"), ev["round_trip"], ev["src_ip"]) == (outcome, why, proven, "203.0.113.66")
    assert ("account" in ev) == event.startswith("auth-")  # a flood or a refused source tried no account


def test_over_tcp_a_flood_or_acl_refusal_proves_its_source():
    for event, reason in (("pike", "flood"), ("acl", "denied-source")):
        ev = parse(line(event, reason, src="src=203.0.113.66 port=40100 proto=tcp"))
        assert (ev["protocol"], ev["round_trip"]) == ("tcp", True)


def test_ipv6_source_and_syslog_prefix():
    ev = parse(line(src="src=2001:db8::66 port=5060 proto=udp", head=SYSLOG))
    assert (ev["src_ip"], ev["port"], ev["ts"]) == ("2001:db8::66", 5060, WHEN)  # the line's own time wins
    assert sniff_line(line(head=SYSLOG)) == sniff_line(line()) == "kamailio-log"


def test_the_senders_fields_are_decoded():
    ev = parse(line(user="1001%3b%20x", ua="Z%c3%a9phyr%2f2.0%20%28Linux%29", method="INVITE"))
    assert (ev["account"], ev["user_agent"], ev["action"]) == ("1001; x", "Zéphyr/2.0 (Linux)", "invite")


@pytest.mark.parametrize("forged", [
    # what Kamailio writes for a From user or User-Agent holding a fake address: encoded, so no field
    dict(user="1.2.3.4", ua="x%20src%3d6.6.6.6%20port%3d5060%20proto%3dudp"),
    dict(ua="a%0d%0a%201%284242%29%20WARNING%3a%20%3cscript%3e%3a%20"
            "tollguard-sec%2f1%20event%3dauth-failed%20src%3d6.6.6.6"),
    dict(method="REGISTER%20src%3d6.6.6.6"),
])
def test_a_fake_address_in_the_senders_text_never_becomes_the_source(forged):
    ev = parse(line(**forged))
    assert ev["src_ip"] == "203.0.113.66" and "6.6.6.6" not in (ev["src_ip"], str(ev.get("port")))


@pytest.mark.parametrize("bad", [
    # the sender's text NOT encoded (an xlog edited without {s.urlencode.param}): its words would be fields
    line(ua="x src=6.6.6.6 port=5060"),
    line(user="1001 src=6.6.6.6"),
    line(ua='"friendly-scanner"'),
    # the fixed fields out of place, missing or twice
    line(src="port=5071 src=203.0.113.66 proto=udp"),
    line(src="src=203.0.113.66 src=6.6.6.6 port=5071 proto=udp"),
    line(src="src=203.0.113.66 proto=udp"),
    line(src="src=6.6.6.6:99 port=5071 proto=udp"),
    line(src="src=fe80::1%25eth0 port=5071 proto=udp"),
    line(src="src=203.0.113.66 port=99999 proto=udp"),
    line(event="auth-failed", reason="hacked"),
    line(event="shutdown", reason="flood"),
    f"{HEAD}tollguard-sec/2 event=auth-failed reason=wrong-password src=203.0.113.66",
    line() + " extra=1",
])
def test_a_line_not_in_the_documented_shape_is_refused_with_a_reason(bad):
    with pytest.raises(AdapterError) as err:
        parse(bad)
    assert "tollguard-sec" in str(err.value)


def test_only_kamailios_script_writes_it():
    """The marker in another module's message, or after another prefix, is not a tollguard-sec line."""
    core = " 1(4242) ERROR: <core> [core/parser/msg_parser.c:339]: parse_headers(): bad header field ["
    for text in (line(head=core),
                 line(head=" 1(4242) WARNING: <script>: ua=x "),
                 line(head="[2026-12-06 16:11:10] NOTICE[1] chan_sip.c: ")):
        assert parse(text) is None


def test_through_the_converter_tail_uses():
    conv = Converter("kamailio-log", "UTC", "acme")
    out = conv.feed((line() + "\n").encode()) + conv.feed(line(ua="x src=6.6.6.6").encode() + b"\n")
    assert json.loads(out[0][0])["src_ip"] == "203.0.113.66" and out[0][1] is None
    assert out[1][1] is not None and "tollguard-sec" in out[1][1]
