"""Attacker-controlled strings reach a human escaped: tables, reject messages, and the contract itself."""

import json
import subprocess
import sys
from pathlib import Path

from streams.commands.alerts import row
from streams.domain.events import decode_checked, decode_event, decode_event_bytes
from streams.reference.text import HOSTILE_JSON, UNSAFE, escape, safe
from tests.builders import sec

ROOT = Path(__file__).resolve().parents[3]
ATTACK = "sipvicious\x1b]0;owned\x07\r\x1b[2K2026-10-30 09:00:00  critical  fake\n\u202e0044\u2066"


def test_escape_writes_out_every_control_and_bidi_character():
    assert escape("a\x1bb\nc\rd\te\x7f\x85\u202e\u2066\ufeff\u200b") == \
        "a\\x1bb\\nc\\rd\\te\\x7f\\x85\\u202e\\u2066\\ufeff\\u200b"
    assert escape("plain Yealink SIP-T46S 66.84.0.1 +44 20 7946") == "plain Yealink SIP-T46S 66.84.0.1 +44 20 7946"
    assert safe("x" * 500, 50).startswith("x" * 49) and safe("x" * 500, 50).endswith("…(+451)")
    assert not UNSAFE.search(safe(ATTACK))


def test_every_unicode_control_or_format_character_is_caught():
    import unicodedata
    visible = {*range(0x600, 0x606), 0x6dd, 0x70f, 0x890, 0x891, 0x8e2}  # Arabic number signs: printed marks
    for code in [*range(0x10000), *range(0xE0000, 0xE0080)]:
        ch = chr(code)
        if unicodedata.category(ch) in ("Cc", "Cf") and code not in visible:
            assert UNSAFE.search(ch), f"U+{code:04X} passes unescaped"
            raw = json.dumps({"x": ch}).encode(), json.dumps({"x": ch}, ensure_ascii=False).encode("utf-8", "surrogatepass")
            assert all(HOSTILE_JSON.search(r) for r in raw), f"U+{code:04X} slips past the raw-bytes test"


def test_the_contract_carries_controls_only_escaped_in_both_decoders():
    raw = json.dumps(sec(user_agent=ATTACK, account="10\u202e01")).encode()
    for decode in (decode_event, lambda r: decode_checked(decode_event_bytes(r)[1])):  # replay; the worker's scopes
        e = decode(raw)
        assert not UNSAFE.search(e.user_agent) and not UNSAFE.search(e.account)
        assert e.user_agent.startswith("sipvicious\\x1b]0;owned\\x07\\r") and e.account == "10\\u202e01"
    # raw UTF-8 (not JSON-escaped) bidi characters too
    raw = json.dumps(sec(account="a\u202eb"), ensure_ascii=False).encode()
    assert decode_event(raw).account == "a\\u202eb"


def test_alert_table_row_cannot_be_forged():
    a = {"ts": "2026-10-30T09:00:00Z", "severity": "critical\x1b[0m", "rule": "user_agents\n", "subject_type": "ip",
         "subject": "203.0.113.7\r", "summary": ATTACK * 5}
    line = row(a, colour=True)
    body = line.removeprefix("\033[1;41;97m").removesuffix("\033[0m")
    assert not UNSAFE.search(body) and "\n" not in line and len(body) < 450


def test_replay_table_and_rejects_show_no_raw_control(tmp_path):
    events = [sec(t=i, ip="203.0.113.9", user_agent=ATTACK, account=f"1{i:03d}\x1b[2K") for i in range(12)]
    lines = [json.dumps(e) for e in events] + ['{"type":"cdr","call_id":"\\u001b]0;t\\u0007","start":"x"}']
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(lines) + "\n")
    r = subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--no-model", "--format", "table", str(path)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "sipvicious" in r.stdout  # the scanner was judged, and its user agent shown escaped
    for stream in (r.stdout, r.stderr):
        for ln in stream.splitlines():
            assert not UNSAFE.search(ln), repr(ln)
    assert len([ln for ln in r.stdout.splitlines() if "fake" in ln and ln.startswith("2026-10-30 09:00:00")]) == 0
    assert "hostile.jsonl:13: rejected" in r.stderr
