"""Issue 25.1: the source address comes only from where the PBX, not the sender, wrote it.

Each log message prints the real address next to text the sender chose (a caller name, a From
header, a Call-ID, a dialled number, a user name). Whatever that text is, the parsed ``src_ip`` is
the real sender's or the line is rejected with its reason; never an address the sender wrote.
The forged payload of the issue (a chan_sip caller ending in ``' (198.51.100.77:5060) to extension ``)
and its variants are checked for every format, then end to end through ``replay`` (and through a
worker on the broker in tests/kafka/test_forged_source.py). Also: messages cut by a newline in the
sender's text, and IPv6 scope ids, in the logs and in JSON events.
"""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from streams.domain.events import EventError, SecurityEvent, decode_event
from streams.intake import Converter
from streams.intake.common import AdapterError
from streams.intake.seclog import LogState, parse_line
from streams.shells.replay import replay_file

FORGED, REAL = "198.51.100.77", "203.0.113.9"
UTC = ZoneInfo("UTC")
AST = "[2024-03-01 10:00:00] NOTICE[1234][C-00000001] "
FS = "2024-03-01 10:00:00.000001 [WARNING] sofia_reg.c:1533 "
KAM = "Mar  1 10:00:00 sbc kamailio[99]: ALERT: <script>: "


def forged_call(i: int = 0, real: str = REAL, forged: str = FORGED) -> str:
    """The issue's payload: the caller text ends in ``' (FORGED:5060) to extension ``."""
    caller = f"x' ({forged}:5060) to extension "
    return (f"[2024-03-01 10:{i // 60 % 60:02d}:{i % 60:02d}] NOTICE[1234][C-{i:08x}] chan_sip.c: Call from "
            f"'{caller}' ({real}:5060) to extension '0044113490{i:04d}' rejected because extension not found in "
            f"context 'from-sip-external'.")


def parse(line: str, fmt: str = "asterisk-log", state: LogState | None = None) -> dict | None:
    return parse_line(fmt, line, state or LogState(UTC))


def source_or_reject(line: str, fmt: str = "asterisk-log") -> str | None:
    """The parsed source address, or None when the line was rejected or skipped."""
    try:
        ev = parse(line, fmt)
    except AdapterError:
        return None
    if ev is not None:
        assert isinstance(decode_event(json.dumps(ev).encode()), SecurityEvent)
    return ev and ev["src_ip"]


# ---------------------------------------------------------------------------- the issue's payload

def test_issue_payload_is_rejected_not_blamed_on_the_forged_address():
    """Old code: non-overlapping search ate the real separator's quote and returned 198.51.100.77."""
    with pytest.raises(AdapterError, match="ambiguous"):
        parse(forged_call())


# Templates per format: {a} and {b} are sender text, the real address is where the PBX writes it.
TEMPLATES = {
    "chan_sip register": ("asterisk-log", AST + "chan_sip.c: Registration from '{a}' failed for '" + REAL
                          + ":5060' - Wrong password"),
    "chan_sip call": ("asterisk-log", AST + "chan_sip.c: Call from '{a}' (" + REAL + ":5060) to extension '{b}' "
                      "rejected because extension not found in context 'default'."),
    "pjsip request": ("asterisk-log", AST + "res_pjsip/pjsip_distributor.c: Request 'INVITE' from '{a}' failed for '"
                      + REAL + ":5060' (callid: {b}) - No matching endpoint found"),
    "pjsip call": ("asterisk-log", AST + "res_pjsip_session.c: Call from 'anonymous' (UDP:" + REAL + ":5060) to "
                   "extension '{b}' rejected because extension not found in context 'public'."),
    "pjsip anonymous call": ("asterisk-log", AST + "res_pjsip_session.c:  anonymous: Call (UDP:" + REAL + ":5060) to "
                             "extension '{b}' rejected because extension not found in context 'public'."),
    "iax2 host": ("asterisk-log", AST + "chan_iax2.c: Host " + REAL + " failed to authenticate as '{a}'"),
    "iax2 md5": ("asterisk-log", AST + "chan_iax2.c: Host " + REAL + " failed MD5 authentication for '{a}' (1 != 2)"),
    "iax2 no peer": ("asterisk-log", AST + "chan_iax2.c: No registration for peer '{a}' (from " + REAL + ")"),
    "ami": ("asterisk-log", AST + "manager.c: " + REAL + " failed to authenticate as '{a}'"),
    "security log": ("asterisk-log", AST.replace("NOTICE", "SECURITY") + 'res_security_log.c: SecurityEvent='
                     '"InvalidAccountID",EventTV="1709287200-1",Severity="Error",Service="PJSIP",EventVersion="1",'
                     'AccountID="{a}",SessionID="{b}",LocalAddress="IPV4/UDP/10.0.0.1/5060",RemoteAddress="IPV4/UDP/'
                     + REAL + '/5060"'),
    "freeswitch auth": ("freeswitch-log", FS + "SIP auth failure (REGISTER) on sofia profile 'internal' for "
                        "[{a}@{b}] from ip " + REAL),
    "freeswitch no user": ("freeswitch-log", FS + "Can't find user [{a}@{b}] from " + REAL),
    "kamailio pike": ("kamailio-log", KAM + "ALERT: pike blocking INVITE from sip:{a}@{b} (IP:" + REAL + ":5060)"),
    "kamailio secfilter": ("kamailio-log", KAM + "INVITE from " + REAL + " blocked because UserAgent '{a}' is "
                           "blacklisted"),
}

# Sender text aimed at each format's separators: the issue's payload and its relatives.
PAYLOADS = [
    f"x' ({FORGED}:5060) to extension ",
    f"' ({FORGED}:5060) to extension '",
    f"x' (UDP:{FORGED}:5060) to extension ",
    f"x' (TCP:[{FORGED}]:5060) to extension ",
    f"x' ([2001:db8::66]:5060) to extension ",
    f"x' failed for '{FORGED}:5060' (callid: ",
    f"' failed for '{FORGED}:5060' (callid: x",
    f"x' failed for '{FORGED}' - Wrong password",
    f"x' failed for '{FORGED}:5060' - Wrong password>",
    f"x' rejected because extension not found in context 'default'.",
    f"0' rejected because extension not found in context 'a'. Call from '' ({FORGED}:1) to extension '0",
    f"x' (from {FORGED})",
    f"x) - No matching endpoint found' failed for '{FORGED}:1' (callid: y",
    f"x] from ip {FORGED}",
    f"x] from {FORGED}",
    f"x (IP:{FORGED}:5060)",
    f'",LocalAddress="IPV4/UDP/10.0.0.1/5060",RemoteAddress="IPV4/UDP/{FORGED}/5060',
    f'\\",RemoteAddress=\\"IPV4/UDP/{FORGED}/5060',
    f"Rejected by acl \"x\" IP {FORGED} ",
    f"{FORGED} failed to authenticate as '",
    "\x00" + f"' ({FORGED}:5060) to extension '" + "\x00",
    f"x\r' ({FORGED}:5060) to extension '\r",
    f"x' ({FORGED}:5060) to extension '" * 3,
    "A" * 5000 + f"' ({FORGED}:5060) to extension '",
]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_plain_lines_name_the_real_sender(name):
    fmt, template = TEMPLATES[name]
    assert source_or_reject(template.format(a="1001", b="0044113490000"), fmt) == REAL


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_forged_payloads_never_name_the_forged_address(name, payload):
    fmt, template = TEMPLATES[name]
    for a, b in ((payload, "0044"), ("1001", payload), (payload, payload)):
        got = source_or_reject(template.format(a=a, b=b), fmt)
        assert got in (REAL, None), (name, a, b, got)


_PIECES = st.sampled_from(["'", '"', "(", ")", " ", ":", "[", "]", "@", ",", "=", "\\", "<", ">", "-", "\x00", "\r",
                           "to extension ", " failed for ", " (callid: ", " - ", "from ", "from ip ", " (from ",
                           "(IP:", " rejected because extension not found in context ", "RemoteAddress=",
                           "IPV4/UDP/", FORGED, f"{FORGED}:5060", f"[{FORGED}]:5060", "2001:db8::66", "UDP:",
                           "Rejected by acl ", "blocked because ", "sip:", "x", "\n", "%eth0"])
SENDER_TEXT = st.lists(_PIECES, max_size=14).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(TEMPLATES)), a=SENDER_TEXT, b=SENDER_TEXT)
def test_any_sender_text_gives_the_real_sender_or_a_reject(name, a, b):
    fmt, template = TEMPLATES[name]
    assert source_or_reject(template.format(a=a, b=b), fmt) in (REAL, None)


def test_dialplan_log_line_quoting_the_sender_is_not_an_unknown_connection():
    """FreePBX's ``Ext. s: "Rejecting unknown SIP connection from IP"`` is the whole message; another
    dialplan Log() line that prints a caller ID holding those words is not one (old code: searched for them)."""
    line = (f'[2024-03-01 10:00:00] WARNING[1][C-00000001] Ext. s: "Call from Rejecting unknown SIP connection '
            f'from {FORGED}"')
    assert parse(line) is None
    real = f'[2024-03-01 10:00:00] WARNING[1][C-00000001] Ext. s: "Rejecting unknown SIP connection from {REAL}"'
    assert parse(real)["src_ip"] == REAL


def test_pjsip_session_caller_is_the_endpoint_so_the_first_separator_is_real():
    """res_pjsip_session names the endpoint (configuration), so only the dialled number is the
    sender's: a forged separator there comes after the real one and cannot move it."""
    line = TEMPLATES["pjsip call"][1].format(b=f"0' (UDP:{FORGED}:5060) to extension '00")
    ev = parse(line)
    assert ev["src_ip"] == REAL and ev["dialled"].startswith("0' (UDP:")


# ------------------------------------------------------------------- newlines in the sender's text

def feed(conv: Converter, *lines: str) -> list[tuple[dict | None, str | None]]:
    """Each line's (event, reject reason) through the file reader."""
    out = []
    for line in lines:
        got = conv.feed(line.encode() + b"\n")
        assert len(got) <= 1
        raw, why = got[0] if got else (None, None)
        out.append((json.loads(raw) if raw and why is None else None, why))
    return out


def cut_call(exten: str, real: str = REAL) -> list[str]:
    """The physical lines chan_sip writes for a refused call whose (%-decoded) number holds newlines."""
    return (f"[2024-03-01 10:00:00] NOTICE[1][C-00000001] chan_sip.c: Call from '' ({real}:5060) to extension "
            f"'{exten}' rejected because extension not found in context 'default'.").split("\n")


FILLER = "[2024-03-01 10:00:01] VERBOSE[2] pbx.c:     -- Executing [s@from-internal:1] NoOp(\"" + "x" * 150 + "\")"


def test_a_newline_in_the_dialled_number_cannot_plant_a_line():
    """chan_sip and res_pjsip_session %-decode the dialled number, so ``%0A`` ends the PBX's line and
    the sender writes the next one, which ends with the PBX's own end. The cut line is refused, and
    so is what follows up to that end; the PBX's next message is read again."""
    lines = cut_call(f"00\nNOTICE[1]: chan_sip.c: Call from '' ({FORGED}:5060) to extension '0044")
    good = forged_call(1, real="192.0.2.10").replace(f"x' ({FORGED}:5060) to extension ", "y")
    (_, cut), (planted, follow), (ev, fine) = feed(Converter("asterisk-log"), *lines, good)
    assert cut.startswith("cut") and "lacks the end" in cut
    assert planted is None and follow.startswith("cut")  # old code: this line blamed 198.51.100.77
    assert fine is None and ev["src_ip"] == "192.0.2.10"


def test_a_cut_message_goes_on_to_its_end_or_as_far_as_one_message_can():
    """Every line up to the one with the PBX's end for that message is refused; with no such end,
    none further than one message reaches (Asterisk's logger cuts a message at BUFSIZ, 8 KiB), so a
    line the PBX itself truncated does not blind the rest of the file."""
    conv = Converter("asterisk-log")
    good = forged_call(2).replace(f"x' ({FORGED}:5060) to extension ", "y")
    out = feed(conv, *cut_call(f"00\n{AST}manager.c: {FORGED} failed to authenticate as 'x'\nyy"), good)
    assert [why is not None and why.startswith("cut") for _, why in out] == [True, True, True, False]
    assert out[-1][0]["src_ip"] == REAL
    after = feed(conv, cut_call("00\n")[0], *[FILLER] * 60, good)  # never ends as the PBX ends it
    refused = sum(why is not None for _, why in after[1:-1])
    assert 8192 // (len(FILLER) + 1) <= refused <= 8192 // len(FILLER) + 1
    assert after[-1][0]["src_ip"] == REAL


def test_the_window_is_kept_across_a_restart():
    """The tail shipper saves its reading state between lines: a cut message stays cut after a restart."""
    conv = Converter("asterisk-log")
    first, rest = cut_call(f"00\n[2024-03-01 10:00:00] NOTICE[1] manager.c: {FORGED} failed to authenticate as 'x")
    feed(conv, first)
    again = Converter("asterisk-log")
    again.restore(json.loads(json.dumps(conv.snapshot())))
    ((ev, why),) = feed(again, rest)
    assert ev is None and why.startswith("cut")


@pytest.mark.parametrize("line", [
    AST + f"chan_iax2.c: Host {REAL} failed to authenticate as 'x",
    AST + f"chan_iax2.c: Host {REAL} failed MD5 authentication for 'peer' (0123456789abcdef != x",
    AST + f"manager.c: {REAL} failed to authenticate as 'x",
    AST + f"res_pjsip_session.c: Call from 'anonymous' (UDP:{REAL}:5060) to extension '00",
])
def test_a_cut_line_whose_address_comes_first_still_names_the_real_sender(line):
    """IAX2 and AMI names are raw bytes; res_pjsip_session's endpoint is configuration. The address
    comes before any sender text, so the cut line is read, and what follows is not."""
    planted = AST + f"chan_iax2.c: Host {FORGED} failed to authenticate as 'y'"
    (ev, why), (planted_ev, planted_why) = feed(Converter("asterisk-log"), line, planted)
    assert why is None and ev["src_ip"] == REAL
    assert planted_ev is None and planted_why.startswith("cut")


@pytest.mark.parametrize("line", [
    AST + "chan_sip.c: Call from 'x",
    AST + f"chan_sip.c: Call from '' ({REAL}:5060) to extension '00",
    AST + f"chan_iax2.c: No registration for peer 'x",
    AST + f"res_pjsip/pjsip_distributor.c: Request 'INVITE' from '\"x",
    AST + f"res_pjsip/pjsip_distributor.c: Request 'INVITE' from '<sip:1@x>' failed for '{REAL}:5060' (callid: ab",
])
def test_a_cut_line_whose_address_follows_sender_text_is_refused(line):
    ((ev, why),) = feed(Converter("asterisk-log"), line)
    assert ev is None and why.startswith("cut")


def test_a_line_holding_a_newline_is_refused():
    with pytest.raises(AdapterError, match="newline"):
        parse(AST + f"manager.c: {REAL} failed to authenticate as 'x'\n" + AST + f"manager.c: {FORGED} failed "
              "to authenticate as 'y'")


# ------------------------------------------------------------------------------- what the PBX writes

def test_chan_sip_writes_no_protocol_so_a_copy_with_one_is_no_reading():
    """chan_sip prints its socket as ``IP:port``; a forged ``(UDP:IP:port)`` cannot be where it wrote."""
    ev = parse(TEMPLATES["chan_sip call"][1].format(a=f"x' (UDP:{FORGED}:5060) to extension ", b="00"))
    assert ev["src_ip"] == REAL and ev["account"].endswith("to extension ") and ev["dialled"] == "00"


def test_every_reading_is_tried_when_copies_overlap():
    """Copies that share quotes with each other and with the real separator are each a reading."""
    caller = f"' ({FORGED}:5060) to extension '' (192.0.2.1:1) to extension "
    with pytest.raises(AdapterError, match="ambiguous.*198.51.100.77"):
        parse(TEMPLATES["chan_sip call"][1].format(a=caller, b="00"))
    same = parse(TEMPLATES["chan_sip call"][1].format(a=f"x' ({REAL}:5060) to extension ", b="00"))
    assert same["src_ip"] == REAL  # one address, however often: the sender can only name itself


def test_pjsip_older_address_without_brackets_keeps_its_port():
    """res_pjsip_session's older ``(%s:%s:%d)`` prints IPv6 bare: the last colon starts the port
    (old code read ``2001:db8::5:5060`` as one address). Its IPv6 transports are named ``UDP6``, …"""
    for hp in ("2001:db8::5:5060", "[2001:db8::5]:5060"):
        for proto in ("UDP", "UDP6", "TCP6"):
            ev = parse(AST + f"res_pjsip_session.c: Call from 'anonymous' ({proto}:{hp}) to extension '00' "
                       "rejected because extension not found in context 'public'.")
            assert (ev["src_ip"], ev["port"], ev["protocol"]) == ("2001:db8::5", 5060, proto[:3].lower())


# Where each format writes the address, holding a scoped IPv6 address.
SCOPED = {
    "chan_sip register": ("asterisk-log", AST + "chan_sip.c: Registration from '<sip:1@x>' failed for '[{s}]:5060' - "
                          "Wrong password"),
    "chan_sip call": ("asterisk-log", AST + "chan_sip.c: Call from '' ([{s}]:5060) to extension '0' rejected because "
                      "extension not found in context 'default'."),
    "pjsip request": ("asterisk-log", AST + "res_pjsip/pjsip_distributor.c: Request 'INVITE' from '<sip:1@x>' failed "
                      "for '[{s}]:5060' (callid: c) - No matching endpoint found"),
    "pjsip call": ("asterisk-log", AST + "res_pjsip_session.c: Call from 'anonymous' (UDP:[{s}]:5060) to extension "
                   "'0' rejected because extension not found in context 'public'."),
    "iax2 host": ("asterisk-log", AST + "chan_iax2.c: Host {s} failed to authenticate as 'x'"),
    "iax2 no peer": ("asterisk-log", AST + "chan_iax2.c: No registration for peer 'x' (from {s})"),
    "ami": ("asterisk-log", AST + "manager.c: {s} failed to authenticate as 'admin'"),
    "unknown connection": ("asterisk-log", AST.replace("NOTICE", "WARNING") + 'Ext. s: "Rejecting unknown SIP '
                           'connection from [{s}]:5060"'),
    "security log": ("asterisk-log", AST.replace("NOTICE", "SECURITY") + 'res_security_log.c: SecurityEvent='
                     '"InvalidPassword",EventTV="1709287200-1",Service="SIP",AccountID="1",SessionID="x",'
                     'LocalAddress="IPV6/UDP/2001:db8::2/5060",RemoteAddress="IPV6/UDP/{s}/5060"'),
    "freeswitch auth": ("freeswitch-log", FS + "SIP auth failure (REGISTER) on sofia profile 'internal' for [1@x] "
                        "from ip {s}"),
    "freeswitch no user": ("freeswitch-log", FS + "Can't find user [1@x] from {s}"),
    "freeswitch acl": ("freeswitch-log", FS + 'IP {s} Rejected by acl "lan"'),
    "kamailio pike block": ("kamailio-log", KAM.replace("ALERT: <script>", "WARNING: pike [pike_funcs.c:164]") +
                            "pike_check_req(): PIKE - BLOCKing ip {s}, node=0x1"),
    "kamailio secfilter": ("kamailio-log", KAM + "INVITE from {s} blocked because IP address is blacklisted"),
    "kamailio pike": ("kamailio-log", KAM + "ALERT: pike blocking INVITE from sip:1@x (IP:{s}:5060)"),
    "kamailio malformed": ("kamailio-log", KAM.replace("ALERT", "WARNING") + "Malformed SIP message from {s}:5060"),
}


@pytest.mark.parametrize("name", sorted(SCOPED))
def test_scoped_ipv6_sources_are_refused_in_every_format(name):
    """Python 3.9+ reads ``2001:db8::1%anything`` as an address; the suffix would give one source as
    many keys as the sender likes, and names an interface of the host that wrote it, not a sender."""
    fmt, template = SCOPED[name]
    assert source_or_reject(template.format(s="2001:db8::1"), fmt) == "2001:db8::1"  # the place is read
    with pytest.raises(AdapterError, match="scope id"):
        parse(template.format(s="2001:db8::1%eth0"), fmt)


@pytest.mark.parametrize("ip", ["2001:db8::1%eth0", "fe80::1%1", "::ffff:203.0.113.9%x"])
@pytest.mark.parametrize("kind", ["security", "cdr"])
def test_json_events_with_a_scoped_src_ip_are_refused(kind, ip):
    ev = ({"type": "security", "ts": "2024-03-01T10:00:00Z", "service": "sip", "outcome": "failure"} if kind ==
          "security" else {"type": "cdr", "call_id": "c1", "start": "2024-03-01T10:00:00Z", "src": "1001",
                           "dst": "2001"})
    assert decode_event(json.dumps({**ev, "src_ip": "2001:db8::1"})).src_ip == "2001:db8::1"
    with pytest.raises(EventError, match="scope id"):
        decode_event(json.dumps({**ev, "src_ip": ip}))


# --------------------------------------------------------------------------------- end to end

def test_replay_blocks_no_forged_address_and_blames_the_real_sender(tmp_path):
    """From a fresh clone: 60 forged lines give no block of 198.51.100.77 (old code: block_ip, inbound_probe);
    60 well-formed ones from another scanner blame that scanner."""
    scanner = "203.0.113.50"
    lines = [forged_call(i) for i in range(60)]
    lines += [forged_call(60 + i, real=scanner).replace(f"x' ({FORGED}:5060) to extension ", "scanner")
              for i in range(60)]
    path = tmp_path / "messages"
    path.write_text("\n".join(lines) + "\n")
    out, stats, rejects = replay_file([str(path)], fmt="asterisk-log")
    targets = {(getattr(r, "kind", None), getattr(r, "target", None)) for r in out}
    subjects = {getattr(r, "subject", None) for r in out if getattr(r, "rule", None) == "inbound_probe"}
    assert not any(FORGED in str(t) for t in targets), targets
    assert FORGED not in subjects and scanner in subjects
    assert stats.rejected == 60 and all("ambiguous" in r.reason for r in rejects)
    assert all(t == scanner for k, t in targets if k == "block_ip")
