"""Issue 25.2: the log parsers say whether a failure proved its source (``round_trip``), so a forged
UDP source gets no innocent address blocked. Before, no parser set the field and every logged
failure counted as proven: 20 spoofed "No matching peer found" lines blocked the victim."""

from zoneinfo import ZoneInfo

import pytest

from streams.intake.proof import round_trip
from streams.intake.seclog import LogState, parse_line
from streams.shells.replay import replay_file

VICTIM = "203.0.113.9"
AST = "[2024-03-01 10:00:{s:02d}] NOTICE[1234] "
FS = "2024-03-01 10:00:{s:02d}.000001 [WARNING] sofia_reg.c:1533 "


def event(line: str, fmt: str = "asterisk-log") -> dict:
    ev = parse_line(fmt, line.format(s=0), LogState(ZoneInfo("UTC")))
    assert ev is not None, line
    return ev


@pytest.mark.parametrize("line, fmt, want", [
    (AST + f"chan_sip.c: Registration from '<sip:1001@pbx>' failed for '{VICTIM}:5060' - Wrong password",
     "asterisk-log", True),
    (AST + f"chan_sip.c: Registration from '<sip:1001@pbx>' failed for '{VICTIM}:5060' - No matching peer found",
     "asterisk-log", False),
    (AST + f"chan_sip.c: Registration from '<sip:1001@pbx>' failed for '{VICTIM}:5060' - Device does not match ACL",
     "asterisk-log", False),
    (AST + f"res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:1001@pbx>' failed for '{VICTIM}:5060' "
     "(callid: abc) - No matching endpoint found", "asterisk-log", False),
    (AST + f"res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:1001@pbx>' failed for '{VICTIM}:5060' "
     "(callid: abc) - Failed to authenticate", "asterisk-log", True),
    (AST + f"chan_sip.c: Call from '' ({VICTIM}:5060) to extension '0044113490' rejected because extension not found "
     "in context 'public'.", "asterisk-log", False),
    (AST + f"chan_iax2.c: Host {VICTIM} failed MD5 authentication for '1001' (1 != 2)", "asterisk-log", True),
    (AST + f"chan_iax2.c: No registration for peer '1001' (from {VICTIM})", "asterisk-log", False),
    (AST + f"manager.c: {VICTIM} failed to authenticate as 'admin'", "asterisk-log", True),
    (FS + f"SIP auth failure (REGISTER) on sofia profile 'internal' for [1001@pbx] from ip {VICTIM}",
     "freeswitch-log", True),
    (FS + f"Can't find user [1001@pbx] from {VICTIM}", "freeswitch-log", False),
    (FS + f'IP {VICTIM} Rejected by register acl "domains"', "freeswitch-log", False),
])
def test_each_message_says_whether_it_proved_its_source(line, fmt, want):
    ev = event(line, fmt)
    assert ev["src_ip"] == VICTIM and ev["round_trip"] is want


def test_an_unknown_reason_says_nothing():
    assert round_trip("sip", "something new in Asterisk 23") is None


def test_spoofed_no_matching_peer_lines_alert_but_block_no_one(tmp_path):
    """20 REGISTERs "from" the victim that needed no reply: alerts, not a block of the victim."""
    lines = [(AST + f"chan_sip.c: Registration from '<sip:10{i % 10:02d}@pbx>' failed for '{VICTIM}:5060' - "
              "No matching peer found").format(s=i) for i in range(20)]
    path = tmp_path / "messages"
    path.write_text("\n".join(lines) + "\n")
    out, _, _ = replay_file([str(path)], fmt="asterisk-log")
    assert [r for r in out if getattr(r, "rule", None)], "the spoofed scan raised no alert at all"
    blocked = [r for r in out if getattr(r, "kind", None) in ("block_ip", "lock_account")
               and VICTIM in (r.target, getattr(r, "from_ip", None))]
    assert not blocked


def test_the_same_lines_answering_a_challenge_block_the_scanner(tmp_path):
    lines = [(AST + f"chan_sip.c: Registration from '<sip:1001@pbx>' failed for '{VICTIM}:5060' - "
              "Wrong password").format(s=i) for i in range(20)]
    path = tmp_path / "messages"
    path.write_text("\n".join(lines) + "\n")
    out, _, _ = replay_file([str(path)], fmt="asterisk-log")
    assert any(getattr(r, "kind", None) == "block_ip" and r.target == VICTIM for r in out)
