"""PBX security log lines to security events (streams.intake.seclog).

The real-data tests read fail2ban's sample logs from ``../shared/realdata/security`` (beside the
checkout; see its README), where each line is preceded by a ``# failJSON:`` comment that is the
ground truth: match:true lines must become events from that host (at that time), match:false
lines must not become failures.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from streams.domain.events import SecurityEvent, decode_event
from streams.intake.common import AdapterError
from streams.intake.seclog import FORMATS, LogState, parse_line, sniff_line

ROOT = Path(__file__).resolve().parents[3]
REALDATA = ROOT.parent / "shared" / "realdata" / "security"
FIXTURES = ROOT / "fixtures" / "logs"
UTC = ZoneInfo("UTC")
REAL_FILES = {"fail2ban_logs_asterisk.log": "asterisk-log", "fail2ban_logs_freeswitch.log": "freeswitch-log"}


def decoded(ev: dict) -> SecurityEvent:
    out = decode_event(json.dumps(ev).encode())
    assert isinstance(out, SecurityEvent)
    return out


def parse(line: str, fmt: str = "asterisk-log", state: LogState | None = None) -> dict | None:
    return parse_line(fmt, line, state or LogState(UTC))


def truth_and_lines(path: Path):
    """(failJSON or None, line) for every log line of a fail2ban sample file, in order."""
    truth = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# failJSON:"):
            truth = json.loads(line.partition(":")[2])
        elif line.strip() and not line.startswith("#"):
            yield truth, line
            truth = None


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"REAL DATA MISSING: {REALDATA} is absent; the fail2ban sample logs are read from "
                    f"../shared/realdata/security beside the checkout (see its README) and never copied in")
    return REALDATA


# ------------------------------------------------------------------------------------ real data

@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_fail2ban_ground_truth(realdata, name):
    fmt = REAL_FILES[name]
    state = LogState(UTC)
    matched = right = wrong_failures = 0
    misses = []
    for truth, line in truth_and_lines(realdata / name):
        try:
            ev = parse_line(fmt, line, state)
        except AdapterError as exc:
            ev, why = None, str(exc)
        else:
            why = "no event"
        if ev is not None:
            decoded(ev)
        if truth and truth.get("match"):
            matched += 1
            if ev is not None and ev["src_ip"] == truth["host"]:
                right += 1
            else:
                misses.append((line, ev or why))
        elif truth is not None and ev is not None and ev["outcome"] == "failure":
            wrong_failures += 1
            misses.append((line, ev))
    print(f"\n{name}: {matched} match:true lines, {right} events with the right host, "
          f"{wrong_failures} match:false lines turned into failures")
    assert matched and right >= 0.9 * matched, misses
    assert right == matched, misses  # all of them today; the 90 % floor above is the contract
    assert wrong_failures == 0, misses


def _has_year(line: str) -> bool:
    return line[:1].isdigit() and line[4:5] == "-" or line.startswith("[") and line[5:6] == "-"


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_fail2ban_times(realdata, name):
    """ts is failJSON's time (read in UTC). EventTV wins over the line's stamp: with an offset, its
    wall clock is failJSON's; as epoch seconds it is the true instant, a whole number of hours off
    the stamp fail2ban read as local time. Year-less stamps: month, day and clock only."""
    state = LogState(UTC)
    checked = 0
    for truth, line in truth_and_lines(realdata / name):
        ev = parse_line(REAL_FILES[name], line, state)
        if not truth or not truth.get("match") or "time" not in truth:
            continue
        want = datetime.fromisoformat(truth["time"])
        got = datetime.fromisoformat(ev["ts"])
        if 'EventTV="1' in line:  # epoch form
            off = got.replace(tzinfo=None, microsecond=0) - want
            assert off % timedelta(hours=1) == timedelta(0) and abs(off) <= timedelta(hours=14), line
            assert got.microsecond > 0  # the microseconds came from EventTV
        elif "EventTV=" in line:
            assert got.replace(tzinfo=None, microsecond=0) == want, line
            assert got.utcoffset() != timedelta(0) or "+0000" in line
        elif _has_year(line):
            assert got.replace(microsecond=0) == want.replace(tzinfo=timezone.utc), line
        else:
            assert (got.month, got.day, got.time().replace(microsecond=0)) == (want.month, want.day, want.time()), line
        checked += 1
    assert checked >= 10


def test_forged_remote_address_in_session_id(realdata):
    """fail2ban's sample: SessionID holds ``",LocalAddress="…",RemoteAddress="IPV4/UDP/5.6.7.8/1111"``."""
    forged = [line for _, line in truth_and_lines(realdata / "fail2ban_logs_asterisk.log")
              if 'SessionID="",LocalAddress=' in line]
    assert len(forged) == 1 and "5.6.7.8" in forged[0]
    ev = parse(forged[0])
    assert ev["src_ip"] == "10.250.251.252" and ev["port"] == 5061
    assert ev["account"] == "70000180" and ev["reason"] == "InvalidAccountID"
    decoded(ev)


def test_sniff_real_files(realdata):
    for name, fmt in REAL_FILES.items():
        votes = {sniff_line(line) for _, line in truth_and_lines(realdata / name)}
        assert votes == {fmt}, name


# ------------------------------------------------------------------------------------- fixtures

def test_asterisk_bruteforce_fixture():
    state = LogState(UTC, tenant="acme")
    events, skipped = [], 0
    for line in (FIXTURES / "asterisk-bruteforce.log").read_text().splitlines():
        ev = parse_line("asterisk-log", line, state)
        if ev is None:
            skipped += 1
        else:
            events.append(decoded(ev))
    assert len(events) == 15 and skipped == 6
    assert {e.src_ip for e in events} == {"203.0.113.45"}
    assert {(e.service, e.outcome, e.action, e.reason, e.tenant) for e in events} == {
        ("sip", "failure", "register", "Wrong password", "acme")}
    assert events[-1].ts - events[0].ts <= timedelta(minutes=2)
    assert events[0].account == "1001" and events[0].port == 5071


def test_kamailio_fixture():
    state = LogState(UTC, year=2024)
    got = [parse_line("kamailio-log", line, state) for line in (FIXTURES / "kamailio-security.log").read_text().splitlines()]
    events = [e for e in got if e is not None]
    for e in events:
        decoded(e)
    assert [e["src_ip"] for e in events] == ["203.0.113.77", "203.0.113.77", "198.51.100.23", "192.0.2.99",
                                             "192.0.2.98", "192.0.2.97", "2001:db8:85a3::8a2e:370:7334"]
    assert got[0] is None and got[1] is None and got[-1] is None
    pike, alert = events[0], events[1]
    assert pike["reason"] == alert["reason"] == "pike flood block" and "action" not in pike
    assert alert["action"] == "register" and alert["port"] == 5070 and "account" not in alert
    assert events[2]["reason"] == "malformed SIP message" and events[2]["port"] == 5060
    assert events[3]["action"] == "invite" and "IP address is blacklisted" in events[3]["reason"]
    assert events[4]["action"] == "options"
    assert events[5]["dialled"] == "0088213"
    assert events[6]["port"] == 5062 and events[6]["action"] == "invite"
    assert pike["ts"] == "2024-03-10T09:00:15+00:00"


# ------------------------------------------------------------------------------------ mappings

def test_pjsip_request_and_session_lines():
    ev = parse("[2020-01-02 03:04:05] NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'OPTIONS' from "
               "'<sip:100@pbx>' failed for '[2001:db8::7]:5060' (callid: x) - No matching endpoint found")
    assert (ev["src_ip"], ev["port"], ev["action"], ev["account"]) == ("2001:db8::7", 5060, "options", "100")
    ev = parse("[2020-01-02 03:04:05] NOTICE[1] res_pjsip_session.c: Call from 'anonymous' (UDP:[2001:db8::9]:5070) "
               "to extension '00972' rejected because extension not found in context 'public'.")
    assert (ev["src_ip"], ev["protocol"], ev["dialled"], ev["context"]) == ("2001:db8::9", "udp", "00972", "public")


def test_security_log_outcomes_and_services():
    base = ('[2021-06-01 10:00:00] SECURITY[9] res_security_log.c: SecurityEvent="{name}",EventTV="{tv}",'
            'Severity="Informational",Service="{svc}",EventVersion="1",AccountID="{acct}",SessionID="s1",'
            'LocalAddress="IPV6/TCP/2001:db8::1/5038",RemoteAddress="IPV6/{proto}/2001:db8::2/40000"{tail}')
    ok = parse(base.format(name="SuccessfulAuth", tv="2021-06-01T10:00:00.5+0200", svc="SIP", acct="200",
                           proto="WSS", tail=',UsingPassword="1"'))
    assert (ok["outcome"], ok["action"], ok["protocol"], ok["src_ip"]) == ("success", "auth", "wss", "2001:db8::2")
    assert ok["ts"] == "2021-06-01T10:00:00.500000+02:00"
    ch = parse(base.format(name="ChallengeSent", tv="1622541600-000001", svc="PJSIP", acct="<unknown>",
                           proto="UDP", tail=',Challenge="abc"'))
    assert (ch["outcome"], ch["action"], ch["service"]) == ("request", "register", "sip") and "account" not in ch
    assert ch["ts"] == "2021-06-01T10:00:00.000001+00:00"
    ami = parse(base.format(name="InvalidPassword", tv="", svc="AMI", acct="admin", proto="TCP", tail=""))
    assert (ami["service"], ami["action"], ami["account"]) == ("ami", "login", "admin")
    assert ami["ts"] == "2021-06-01T10:00:00+00:00"  # no EventTV: the line's stamp
    req = parse(base.format(name="RequestNotAllowed", tv="", svc="SIP", acct="", proto="UDP",
                            tail=',RequestType="INVITE",RequestParams=""'))
    assert (req["outcome"], req["action"]) == ("failure", "invite")
    iax = parse(base.format(name="InvalidAccountID", tv="", svc="IAX2", acct="x", proto="UDP", tail=""))
    assert (iax["service"], iax["action"]) == ("iax2", "register")
    assert parse(base.format(name="SomethingNew", tv="", svc="SIP", acct="", proto="UDP", tail="")) is None
    for ev in (ok, ch, ami, req, iax):
        decoded(ev)


def test_forged_remote_address_escaped_in_a_trailing_field():
    """Fields after RemoteAddress come from SIP quoted strings: a forged pair there has escaped quotes."""
    line = ('[2021-06-01 10:00:00] SECURITY[9] res_security_log.c: SecurityEvent="ChallengeResponseFailed",'
            'EventTV="1622541600-0",Severity="Error",Service="PJSIP",EventVersion="1",AccountID="1",'
            'SessionID="a\\",RemoteAddress=\\"IPV4/UDP/6.6.6.6/1",LocalAddress="IPV4/UDP/10.0.0.1/5060",'
            'RemoteAddress="IPV4/UDP/198.51.100.7/5060",Challenge="c",'
            'Response="\\",RemoteAddress=\\"IPV4/UDP/7.7.7.7/1\\"",ExpectedResponse=""')
    assert parse(line)["src_ip"] == "198.51.100.7"


def test_forged_addresses_in_caller_fields():
    # chan_sip: only the To value is the sender's and it comes first: the last separator is real
    ev = parse("[2020-01-01 00:00:00] NOTICE[1] chan_sip.c: Registration from '<sip:x' failed for "
               "'6.6.6.6' - Wrong password>' failed for '198.51.100.1:5060' - Wrong password")
    assert ev["src_ip"] == "198.51.100.1"
    # res_pjsip: From and Call-ID on both sides of the address; disagreeing copies are refused
    for line in (
        "[2020-01-01 00:00:00] NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'INVITE' from '\"a' failed for "
        "'6.6.6.6:1' (callid: b\" <sip:1@x>' failed for '198.51.100.1:5060' (callid: c) - No matching endpoint found",
        "[2020-01-01 00:00:00] NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'INVITE' from '<sip:1@x>' failed for "
        "'198.51.100.1:5060' (callid: c' failed for '6.6.6.6:1' (callid: d) - No matching endpoint found",
        "[2020-01-01 00:00:00] NOTICE[1] chan_sip.c: Call from 'x' (6.6.6.6:1) to extension 'y' (198.51.100.1:5060) "
        "to extension '00' rejected because extension not found in context 'default'.",
    ):
        with pytest.raises(AdapterError, match="ambiguous"):
            parse(line)


def test_freeswitch_register_vs_invite_user():
    reg = parse("2020-05-05 10:00:00.000001 [WARNING] sofia_reg.c:1 SIP auth failure (REGISTER) on sofia profile "
                "'internal' for [1001@pbx.example] from ip 192.0.2.50", "freeswitch-log")
    assert reg["account"] == "1001" and "dialled" not in reg and reg["action"] == "register"
    inv = parse("2020-05-05 10:00:00.000001 [WARNING] sofia_reg.c:1 SIP auth failure (INVITE) on sofia profile "
                "'external' for [0044203@pbx.example] from ip 192.0.2.50", "freeswitch-log")
    assert inv["dialled"] == "0044203" and "account" not in inv and inv["context"] == "external"
    acl = parse('2020-05-05 10:00:00.000001 [WARNING] sofia_reg.c:1 IP 192.0.2.51 Rejected by register acl "lan"',
                "freeswitch-log")
    assert (acl["outcome"], acl["action"], acl["src_ip"]) == ("failure", "register", "192.0.2.51")
    assert parse('2020-05-05 10:00:00.000001 [DEBUG] sofia.c:1 IP 192.0.2.51 Rejected by acl "domains". '
                 'Falling back to Digest auth.', "freeswitch-log") is None



FS = "2024-05-01 10:00:00.123456 "  # FreeSWITCH's own stamp; the level and source file follow


def test_freeswitch_verto_connection_refused_by_acl():
    """mod_verto.c (the websocket listener): ``NAME Client Connect from HOST:PORT refused by ACL ACL``,
    NAME being HOST:PORT again (``[v6]:port``), all from accept(): no sender text, and a TCP peer."""
    ev = parse(FS + "[DEBUG] mod_verto.c:4821 198.51.100.20:53122 Client Connect from 198.51.100.20:53122 "
               "refused by ACL lan", "freeswitch-log")
    assert (ev["service"], ev["outcome"], ev["action"]) == ("verto", "failure", "login")
    assert (ev["src_ip"], ev["port"], ev["round_trip"]) == ("198.51.100.20", 53122, True)
    assert "lan" in ev["reason"]
    decoded(ev)
    ev = parse("2024-05-01T10:00:00.5+02:00 pbx freeswitch[7]: " + FS + "[DEBUG] mod_verto.c:4821 "
               "[2001:db8::7]:443 Client Connect from 2001:db8::7:443 refused by ACL wan_v6.auto", "freeswitch-log")
    assert (ev["src_ip"], ev["port"], ev["ts"]) == ("2001:db8::7", 443, "2024-05-01T10:00:00.500000+02:00")
    # the two spellings FreeSWITCH prints of one accept() address disagree: not its line
    with pytest.raises(AdapterError):
        parse(FS + "[DEBUG] mod_verto.c:4821 198.51.100.20:1 Client Connect from 203.0.113.9:1 refused by ACL lan",
              "freeswitch-log")


def test_freeswitch_verto_login_failure_has_no_address():
    """mod_verto.c check_auth: ``Login incorrect for user: ID domain: DOMAIN`` names no address, and
    ID is the sender's login string: an address in it is never the source."""
    with pytest.raises(AdapterError, match="no source address"):
        parse(FS + "[WARNING] mod_verto.c:1100 Login incorrect for user: 203.0.113.66 domain: 203.0.113.67",
              "freeswitch-log")
    with pytest.raises(AdapterError, match="no source address"):
        parse(FS + "[WARNING] mod_verto.c:1100 Login incorrect for user: x Client Connect from 203.0.113.66:1 "
              "refused by ACL lan domain: pbx.example", "freeswitch-log")


def test_freeswitch_verto_login_cut_by_a_newline_in_the_login():
    """The login is JSON text, so ``\\n`` in it ends FreeSWITCH's physical line early and the sender
    writes the next ones, shaped like log lines. The line without FreeSWITCH's end (`` domain: D``)
    is refused, and so is every line up to the one with that end; the next line is read again."""
    state = LogState(UTC)
    forged_acl = FS + '[WARNING] sofia_reg.c:2406 IP 203.0.113.66 Rejected by register acl "lan"'
    forged_verto = FS + "[DEBUG] mod_verto.c:4821 203.0.113.66:1 Client Connect from 203.0.113.66:1 refused by ACL x"
    assert parse(forged_acl, "freeswitch-log")["src_ip"] == "203.0.113.66"  # on its own, a line like any other
    lines = [FS + "[WARNING] mod_verto.c:1100 Login incorrect for user: 1000", forged_acl, forged_verto,
             forged_acl + " domain: pbx.example"]
    for line in lines:
        with pytest.raises(AdapterError, match="cut"):
            parse_line("freeswitch-log", line, state)
    real = FS + "[DEBUG] mod_verto.c:4821 198.51.100.20:5 Client Connect from 198.51.100.20:5 refused by ACL lan"
    assert parse_line("freeswitch-log", real, state)["src_ip"] == "198.51.100.20"
    # the planted line that carries FreeSWITCH's end is not one FreeSWITCH writes, even unannounced
    assert parse(forged_verto + " domain: pbx.example", "freeswitch-log") is None


def test_freeswitch_sofia_refusals_of_a_source():
    # sofia_reg.c sofia_reg_parse_auth: the directory user's auth-acl, no proxy ACL (REGISTER and INVITE)
    ev = parse(FS + "[WARNING] sofia_reg.c:3275 IP 198.51.100.30 Rejected by user acl [lan,office] and no proxy "
               "acl present", "freeswitch-log")
    assert (ev["service"], ev["outcome"], ev["src_ip"], ev["round_trip"]) == ("sip", "failure", "198.51.100.30", False)
    assert "user acl lan,office" in ev["reason"]
    decoded(ev)
    # with proxy ACLs the debug line says the check goes on: no refusal yet
    assert parse(FS + "[DEBUG] sofia_reg.c:3279 IP 198.51.100.30 Rejected by user acl [lan] checking proxy ACLs now",
                 "freeswitch-log") is None
    # the same refusal behind a proxy names the X-AUTH-IP header, not the packet's source: refused
    with pytest.raises(AdapterError, match="X-AUTH-IP"):
        parse(FS + "[WARNING] sofia_reg.c:3305 IP 203.0.113.66 Rejected by user acl lan", "freeswitch-log")
    # a header holding a copy of the no-proxy line still ends with the directory's ACL name
    with pytest.raises(AdapterError, match="X-AUTH-IP"):
        parse(FS + "[WARNING] sofia_reg.c:3305 IP 203.0.113.66 Rejected by user acl [lan] and no proxy acl present "
              "Rejected by user acl lan", "freeswitch-log")
    # sofia.c: auth-calls with auth-calls-acl-only, the INVITE's source and port
    ev = parse(FS + "[DEBUG] sofia.c:10695 IP/Port 198.51.100.31 5080 Rejected by acls and auth-calls-acl-only flag is "
               "set, rejecting call", "freeswitch-log")
    assert (ev["action"], ev["src_ip"], ev["port"], ev["round_trip"]) == ("invite", "198.51.100.31", 5080, False)
    decoded(ev)
    # sofia.c: the inbound ACL refusing an INVITE (403)
    ev = parse(FS + '[WARNING] sofia.c:10679 IP 198.51.100.33 Rejected by acl "domains"', "freeswitch-log")
    assert (ev["action"], ev["src_ip"], ev["round_trip"]) == ("invite", "198.51.100.33", False)
    # sofia_reg.c: a REGISTER without a To/From user, answered 401 before any challenge
    ev = parse(FS + "[ERR] sofia_reg.c:1437 Can not do authorization without a complete header in REGISTER request "
               "from 2001:db8::9:5062", "freeswitch-log")
    assert (ev["action"], ev["src_ip"], ev["port"], ev["round_trip"]) == ("register", "2001:db8::9", 5062, False)
    decoded(ev)


# ---------------------------------------------------------------------------------- edge cases

def test_ipv6_in_brackets_and_mapped_ipv4():
    ev = parse('[2013-11-11 14:33:38] WARNING[1][C-00000001] Ext. s: "Rejecting unknown SIP connection from '
               '[2001:DB8:0::1]:5060"')
    assert (ev["src_ip"], ev["port"]) == ("2001:db8::1", 5060)
    ev = parse("[2013-11-11 14:33:38] NOTICE[1] chan_sip.c: Registration from '<sip:1@x>' failed for "
               "'[::ffff:192.0.2.9]:5060' - Wrong password")
    assert ev["src_ip"] == "192.0.2.9"


def test_journald_line_takes_the_last_time_seen():
    line = "NOTICE[566]: chan_sip.c:28926 handle_request_register: Registration from '\"28\" <sip:28@pbx>' " \
           "failed for '192.0.2.1:7998' - Wrong password"
    state = LogState(UTC)
    with pytest.raises(AdapterError, match="no time stamp"):
        parse_line("asterisk-log", line, state)
    assert parse_line("asterisk-log", "[2019-04-01 12:00:00] VERBOSE[1] pbx.c: -- hello", state) is None
    assert parse_line("asterisk-log", line, state)["ts"] == "2019-04-01T12:00:00+00:00"


def test_non_security_lines_are_none():
    state = LogState(UTC)
    for fmt, line in (
        ("asterisk-log", "[2020-01-01 00:00:00] VERBOSE[1][C-00000001] pbx.c:     -- Executing [s@from-sip:1] "
                         "NoOp(\"SIP/x\", \"Registration from '' failed for '6.6.6.6' - Wrong password\")"),
        ("asterisk-log", "[2020-01-01 00:00:00] NOTICE[1] chan_sip.c: Peer '101' is now Reachable. (4ms / 2000ms)"),
        ("asterisk-log", "[2020-01-01 00:00:00] DEBUG[1] manager.c: 1.2.3.4 failed to authenticate as 'x'"),
        ("asterisk-log", "Jan  1 00:00:00 host sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2"),
        ("asterisk-log", "2020-01-01 00:00:00.000001 [WARNING] sofia_reg.c:1 Can't find user [1@x] from 1.2.3.4"),
        ("freeswitch-log", "2020-01-01 00:00:00.000001 [NOTICE] switch_core.c:1 FreeSWITCH Started"),
        ("freeswitch-log", "You must define a domain called '1.2.3.4' in your directory and add a user"),
        ("kamailio-log", "Jan  1 00:00:00 h kamailio[1]: INFO: <script>: new request from 1.2.3.4"),
        ("asterisk-log", "# a comment"), ("asterisk-log", "   "),
    ):
        assert parse_line(fmt, line, state) is None, line


def test_security_line_without_address_is_an_error():
    with pytest.raises(AdapterError, match="no source address"):
        parse("[2020-01-01 00:00:00] NOTICE[1] chan_sip.c: Failed to authenticate device 100<sip:100@x>;tag=1 "
              "for INVITE, code = -1")
    with pytest.raises(AdapterError, match="no source address"):
        parse('[2020-01-01 00:00:00] SECURITY[1] res_security_log.c: SecurityEvent="InvalidPassword",'
              'EventTV="1-1",Service="SIP",AccountID="1",SessionID="x"')


def test_hostile_account_is_bounded():
    account = "\x1b]0;pwned\x07\u202e" + "9" * 100_000
    ev = parse(f"[2020-01-01 00:00:00] NOTICE[1] chan_sip.c: Registration from '<sip:{account}@x>' failed for "
               f"'192.0.2.3' - Wrong password")
    assert len(ev["account"]) <= 512 and ev["src_ip"] == "192.0.2.3"
    assert "\x1b" not in decoded(ev).account  # the contract escapes what the adapter kept
    ev = parse(f"[2020-01-01 00:00:00] NOTICE[1] manager.c: 192.0.2.3 failed to authenticate as '{account}'")
    assert len(ev["account"]) <= 512
    decoded(ev)


@pytest.mark.parametrize("make", [
    lambda n: "[2020-01-01 00:00:00] NOTICE[1] chan_sip.c: Registration from '" + "a" * n + "' failed for '1.2.3.4' - x",
    lambda n: "[2020-01-01 00:00:00] NOTICE[1] chan_sip.c: Registration from '" + "' failed for '" * (n // 14),
    lambda n: "[2020-01-01 00:00:00] NOTICE[1] chan_sip.c: Call from '" + "' (1.2.3.4:5) to extension '" * (n // 28),
    lambda n: "[2020-01-01 00:00:00] NOTICE[1] res_pjsip/pjsip_distributor.c: Request from '"
              + "' failed for '1.2.3.4:5' (callid: " * (n // 36) + ") - x",
    lambda n: '[2020-01-01 00:00:00] SECURITY[1] res_security_log.c: SecurityEvent="InvalidPassword",SessionID="'
              + '",RemoteAddress="IPV4/UDP/1.2.3.4/5' * (n // 36) + '"' + ',A="' * (n // 4),
    lambda n: "a" * n, lambda n: "[" * n, lambda n: "NOTICE[1]: " + "x.c" * (n // 3),
    lambda n: "Jan  1 00:00:00 " + "h" * n, lambda n: "2020-01-01 00:00:00.1 [WARNING] sofia.c:1 IP " + "1" * n,
    lambda n: "ALERT: <script>: ALERT: pike blocking INVITE from " + " (IP:" * (n // 5),
    lambda n: "2020-01-01 00:00:00.1 [DEBUG] mod_verto.c:1 " + "1.2.3.4:5 Client Connect from " * (n // 31),
    lambda n: "2020-01-01 00:00:00.1 [WARNING] sofia_reg.c:1 IP 1.2.3.4 Rejected by user acl [" + "]" * n,
])
def test_megabyte_line_in_bounded_time(make):
    line = make(1 << 20)
    start = time.perf_counter()
    for fmt in FORMATS:
        try:
            ev = parse(line, fmt)
        except AdapterError:
            ev = None
        if ev is not None:
            decoded(ev)
        sniff_line(line)
    assert time.perf_counter() - start < 2.0


# ------------------------------------------------------------------------------------- time

def test_year_inference_and_roll_over():
    state = LogState(UTC, year=2019)
    ts = [parse_line("asterisk-log", f"[{s}] NOTICE[1] manager.c: 192.0.2.1 failed to authenticate as 'a'", state)["ts"]
          for s in ("Dec 31 23:59:58", "Jan  1 00:00:03", "2021-03-01 10:00:00", "Mar  2 10:00:00")]
    assert ts == ["2019-12-31T23:59:58+00:00", "2020-01-01T00:00:03+00:00", "2021-03-01T10:00:00+00:00",
                  "2021-03-02T10:00:00+00:00"]


def test_year_less_stamp_is_never_in_the_future():
    soon = datetime.now(timezone.utc) + timedelta(days=40)
    state = LogState(UTC, year=soon.year)
    line = f"{soon:%b} {soon.day:2d} 10:00:00 pbx asterisk[1]: NOTICE[2]: manager.c: 192.0.2.1 failed to authenticate as 'a'"
    assert parse_line("asterisk-log", line, state)["ts"].startswith(f"{soon.year - 1}-{soon:%m-%d}T10:00:00")


def test_local_zone_and_iso_syslog_offset():
    berlin = LogState(ZoneInfo("Europe/Berlin"))
    ev = parse("[2020-01-15 10:00:00] NOTICE[1] manager.c: 192.0.2.1 failed to authenticate as 'a'", state=berlin)
    assert ev["ts"] == "2020-01-15T10:00:00+01:00"
    ev = parse("2020-07-15T10:00:00.25-04:00 pbx freeswitch[1]: 2020-07-15 14:00:00.250000 [WARNING] sofia_reg.c:1 "
               "Can't find user [7@x] from 192.0.2.8", "freeswitch-log", berlin)
    assert ev["ts"] == "2020-07-15T10:00:00.250000-04:00"


def test_snapshot_round_trip():
    state = LogState(ZoneInfo("America/New_York"), "t1", 2022)
    parse_line("asterisk-log", "[Nov  5 10:00:00] VERBOSE[1] pbx.c: x", state)
    snap = json.loads(json.dumps(state.snapshot()))
    again = LogState.restore(ZoneInfo("America/New_York"), "t1", snap)
    assert (again.year, again.last, again.tenant) == (2022, state.last, "t1")
    line = "[Nov  6 10:00:00] NOTICE[1] manager.c: 192.0.2.1 failed to authenticate as 'a'"
    assert parse_line("asterisk-log", line, again)["ts"] == "2022-11-06T10:00:00-05:00"
    assert LogState.restore(UTC, "t", LogState(UTC).snapshot()).last is None


# ------------------------------------------------------------------------------------- sniff

@pytest.mark.parametrize("line, fmt", [
    ("[2024-01-01 10:00:00] VERBOSE[1234][C-00000001] pbx.c:     -- Executing [s@default:1] Answer()", "asterisk-log"),
    ("[Jan  5 10:00:00] NOTICE[12] chan_sip.c: Registration from '<sip:1@x>' failed for '1.2.3.4' - Wrong password",
     "asterisk-log"),
    ("Jan  5 10:00:00 pbx asterisk[99]: NOTICE[12]: res_pjsip_registrar.c:1 x: y", "asterisk-log"),
    ("NOTICE[566]: chan_sip.c:28926 handle_request_register: Registration from 'x'", "asterisk-log"),
    ("2024-01-01 10:00:00.123456 [NOTICE] mod_sofia.c:1234 Hangup sofia/internal/101@x [CS_EXECUTE] [NORMAL_CLEARING]",
     "freeswitch-log"),
    ("08-03 07:56:53.026292 [WARN] [SOFIA] [sofia_reg.c:4130] Can't find user [101@x] from 192.0.2.3", "freeswitch-log"),
    ("2024-01-01T10:00:00.1+00:00 pbx freeswitch[5]: something happened", "freeswitch-log"),
    ("Mar 10 09:00:15 sbc kamailio[823]: WARNING: pike [pike_funcs.c:164]: pike_check_req(): PIKE - BLOCKing ip 1.2.3.4, "
     "node=0x1", "kamailio-log"),
    (" 3(1234) ERROR: <core> [core/tcp_main.c:1]: tcpconn(): x", "kamailio-log"),
    ('{"type": "security", "ts": "2024-01-01T00:00:00Z", "service": "sip"}', None),
    ('[{"type": "security"}]', None),
    ('"","101","00441134900292","default","""Bob"" <101>","SIP/101-0000","","Dial","","2024-01-01 10:00:00"', None),
    ("Call 1234,1,00:00:10,2024-01-01 10:00:00,x", None),
    ("2024-01-01 10:00:00,101,102,ANSWERED", None),
    ("Jan  1 00:00:00 host sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2", None),
    ("", None),
])
def test_sniff_line(line, fmt):
    assert sniff_line(line) == fmt
