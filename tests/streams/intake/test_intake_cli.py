"""The commands over real logs and exports: formats told apart, one hint for a wrong one, exit status."""
import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli import build_parser
from streams.intake import FORMATS
from streams.policy import Policy
from streams.shells.replay import replay_file

ROOT = Path(__file__).resolve().parents[3]
LOGS = ROOT / "fixtures" / "logs"
REAL = ROOT.parent / "shared" / "realdata" / "security"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_the_cli_offers_every_format():
    for cmd in ("replay", "produce", "tail"):
        assert build_parser().parse_args([cmd, "--input", FORMATS[-1], "x"]).input == FORMATS[-1]
        sub = next(a for a in build_parser()._subparsers._group_actions[0].choices[cmd]._actions
                   if a.dest == "input")
        assert tuple(sub.choices) == FORMATS, cmd


def test_a_brute_force_log_raises_the_lockout():
    out, stats, rejects = replay_file([str(LOGS / "asterisk-bruteforce.log")], Policy.default())
    alerts = [r for r in out if r.__class__.__name__ == "Alert"]
    assert [a.rule for a in alerts] == ["registration_lockout"] and alerts[0].subject == "203.0.113.45"
    assert not rejects


@pytest.mark.skipif(not REAL.is_dir(), reason=f"LOUD SKIP: the real fail2ban logs are not at {REAL}")
def test_real_asterisk_probes_raise_inbound_probe():
    # five "extension not found" calls from 1.2.3.4, years apart; two of them 12 minutes apart in 2016
    out, _, _ = replay_file([str(REAL / "fail2ban_logs_asterisk.log")], Policy.default())
    assert not [a for a in out if a.__class__.__name__ == "Alert" and a.rule == "inbound_probe"]
    out, _, _ = replay_file([str(REAL / "fail2ban_logs_asterisk.log")],
                            Policy.from_yaml("inbound_probes: {probes: 2, seconds: 3600}"))
    probes = [a for a in out if a.__class__.__name__ == "Alert" and a.rule == "inbound_probe"]
    assert [(a.subject, a.ts.year, a.evidence["probes"]) for a in probes] == [("1.2.3.4", 2016, 2)]


def test_a_wrong_input_gives_one_hint_not_a_reject_per_line():
    p = cli("replay", "--no-model", "--input", "jsonl", str(LOGS / "asterisk-bruteforce.log"))
    assert p.returncode == 2 and "looks like asterisk-log, not jsonl" in p.stderr
    assert p.stderr.count("rejected") == 0


def test_nothing_accepted_exits_1_with_a_summary(tmp_path):
    f = tmp_path / "x.log"
    f.write_text("[2026-03-02 10:00:00] VERBOSE[1] pbx.c: Executing [s@default:1] Answer\n")
    p = cli("replay", "--no-model", "--input", "asterisk-log", str(f))
    assert p.returncode == 1 and "1 lines, 0 events, 1 skipped, 0 rejected" in p.stderr
    assert "no event was accepted" in p.stderr


def test_an_unknown_file_says_which_formats_exist(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("hello\nworld\n")
    p = cli("replay", "--no-model", str(f))
    assert p.returncode == 2 and "cannot tell its format" in p.stderr and "asterisk-log" in p.stderr
