"""What reaches a human or a SIEM: escaped attacker text in email, chat text, RFC 5424 and CEF."""

from __future__ import annotations

import re

import pytest

from streams.services.notify import render, syslog
from streams.services.notify.chat import escape

from .conftest import HOSTILE, alert, incident

BAD = re.compile("[\x00-\x1f\x7f]")


def hostile():
    return incident(subject=HOSTILE, summary=HOSTILE, tenant="acme\r\nBcc: x@evil", rules=["scan|ner=x"])


def test_email_subject_and_text_carry_no_control_character():
    m = render.opened(hostile())
    assert m.title.startswith("[tollguard CRITICAL] acme\\r\\nBcc: x@evil ip 203.0.113.9\\x1b[2J\\nFAKE")
    assert not BAD.search(m.title)
    for line in m.text.split("\n"):
        assert not BAD.search(line)
    assert m.text.split("\n")[0] == m.title                    # the hostile newline forged no line


def test_subject_names_severity_tenant_subject_and_rules():
    assert render.opened(incident()).title == \
        "[tollguard CRITICAL] acme ip 203.0.113.9: scanner_user_agent, registration_lockout"


@pytest.mark.parametrize("markup", ["slack", "markdown"])
def test_chat_text_escapes_slack_control_sequences(markup):
    text = escape(render.opened(hostile()).text, markup)
    assert "<script>" not in text and "<!channel>" not in text
    assert "&lt;script&gt;" in text and "&lt;!channel&gt;" in text
    assert "\x1b" not in text


def test_cef_escapes_pipes_backslashes_equals_and_newlines():
    line = syslog.cef(hostile(), "opened")
    assert not BAD.search(line)
    fields = re.split(r"(?<!\\)\|", line, maxsplit=7)            # unescaped | ends a header field
    head, ext = "|".join(fields[:7]), fields[7]
    assert fields[4] == "incident-opened" and fields[6] == "10"   # the hostile | did not shift a field
    assert fields[5] == r"scan\|ner=x ip 203.0.113.9\\x1b[2J\\nFAKE: all clear\|x=\\y <script>alert(1)</script> <!channel>"
    assert r"cs4=203.0.113.9\\x1b[2J\\nFAKE: all clear|x\=\\y <script>" in ext
    keys = re.findall(r"(?:^| )(\w+)=", ext.replace("\\=", ""))
    assert keys[:3] == ["externalId", "cs1Label", "cs1"] and "msg" in keys
    assert "Bcc" in ext and "cs1=acme\\\\r\\\\nBcc: x@evil" in ext
    assert head.startswith("CEF:0|tollguard|tollguard|")


def test_cef_alert_uses_the_rule_as_signature():
    fields = syslog.cef(alert(severity="warning"), "alert").split("|")
    assert fields[4] == "scanner_user_agent" and fields[6] == "5"


def test_rfc5424_line_header_structured_data_and_escaping():
    line = syslog.line(hostile(), "opened", "rfc5424", 20, "tollguard", host="pbx gw")
    assert not BAD.search(line)
    m = re.match(r"<(\d+)>1 (\S+) (\S+) (\S+) (\d+) (\S+) \[tollguard@32473 (.*?)(?<!\\)\] (.*)$", line)
    assert m, line
    assert m.group(1) == str(20 * 8 + 2)          # local4, crit
    assert m.group(3) == "pbx_gw" and m.group(6) == "opened"
    sd = m.group(7)
    assert r'subject="203.0.113.9\\x1b[2J\\nFAKE: all clear|x=\\y <script>alert(1)</script> <!channel>"' in sd
    assert m.group(8).startswith("opened: acme")


def test_rfc5424_escapes_quote_and_bracket_in_values():
    line = syslog.line(incident(subject='a"b]c'), "opened", "rfc5424", 1, "tollguard", host="h")
    assert 'subject="a\\"b\\]c"' in line


def test_tcp_framing():
    assert syslog.frame("héllo", "octet-counting") == b"6 h\xc3\xa9llo"
    assert syslog.frame("x", "newline") == b"x\n"


def test_storm_gives_a_siem_one_line_per_folded_message():
    folded = [render.opened(incident(iid=f"i-{i}")) for i in range(3)]
    lines = syslog.lines(render.storm("siem", folded), "cef", 20, "tollguard")
    assert len(lines) == 3 and all("incident-opened" in ln for ln in lines)


def test_a_campaign_is_one_message_that_gives_its_size():
    camp = {"families": {"brute_force": 30000}, "events": 30000, "events_estimated": True,
            "sources": {"distinct": 29000, "estimated": True}, "accounts": {"distinct": 500},
            "countries": {"sample": [[HOSTILE, 3]]}}
    m = render.opened(incident(subject_type="campaign", subject="2024-05-01T01:00:00Z", campaign=camp))
    line = next(x for x in m.text.split("\n") if x.startswith("campaign of"))
    assert line.startswith("campaign of brute_force: ~30,000 events from ~29,000 sources against 500 accounts")
    assert not BAD.search(line)
