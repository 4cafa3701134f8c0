"""The audit's frame: the guide's credential rules, the policy checks, the output formats, --baseline and
--fail-on, and that a secret never reaches any output."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.audit import audit
from streams.audit.passwords import name_weakness, weakness
from tests.builders import webhook

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("secret, kind, ext, said", [
    ("1234", "registration", None, "a well-known default"),
    ("ab12CD", "registration", None, "6 characters, under 8"),
    ("12345678", "registration", None, "digits only"),
    ("abcdefgh", "registration", None, "one case of letters only"),
    ("Abcd1113x", "registration", None, "repeated or consecutive digits"),
    ("Abcd1239x", "registration", None, "repeated or consecutive digits"),
    ("Abcd9870x", "registration", None, "repeated or consecutive digits"),
    ("Xq1001zzPw", "registration", "1001", "contains the extension number"),
    ("ORverH9reH", "user", None, None),           # 10 characters, three classes: the guide's own example
    ("ORverH9re", "user", None, "9 characters, under 10"),
    ("1DhZSD57bG", "registration", "1000", None),
])
def test_the_guides_credential_rules(secret, kind, ext, said):
    got = weakness(secret, kind, ext)
    if said is None:
        assert got is None
    else:
        assert got is not None and said in got and secret not in got


def test_a_registration_name_equal_to_the_extension_is_named():
    assert name_weakness("1000", "1000") and name_weakness("1DhZSD57bG", "1000") is None


BAD_POLICY = """home_country: GB
block_on_unverified_udp: true
max_call_duration: 86400
auto_defense: []
registration_lockout: {failures: 10, seconds: 600, lock_account: true, lock_scope: account}
extensions:
  defaults: {international: true}
rules:
  premium_rate: {mode: off}
"""


def test_a_policy_below_the_guide_is_reported_with_its_lines(tmp_path):
    (tmp_path / "policy.yaml").write_text(BAD_POLICY)
    found, looked = audit([str(tmp_path)])
    at = {f.check: f.line for f in found}
    assert at["policy-block-unverified"] == 2 and at["policy-long-calls"] == 3 and at["policy-auto-defense-off"] == 4
    assert at["policy-lock-scope-account"] == 5 and at["policy-international-by-default"] == 7
    assert at["policy-rule-off"] == 9 and "policy-no-country-ips" in at
    assert looked == [str(tmp_path / "policy.yaml")]


def test_the_example_policy_keeps_the_guides_recommendations():
    found, looked = audit([str(ROOT / "fixtures" / "policy.example.yaml")])
    assert looked and found == [], [f"{f.check}: {f.message}" for f in found]


def test_an_invalid_policy_is_one_finding_with_its_line(tmp_path):
    (tmp_path / "policy.yaml").write_text("home_country: GB\nallowed_countries: [UK]\n")
    (f,), _ = audit([str(tmp_path)])
    assert f.check == "policy-invalid" and f.line == 2 and "did you mean GB" in f.message


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "streams.cli", "audit", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_formats_fail_on_and_baseline(tmp_path):
    (tmp_path / "policy.yaml").write_text(BAD_POLICY)
    table = run(tmp_path)
    assert table.returncode == 0 and "policy-rule-off" in table.stdout and "fix:" in table.stdout
    assert run(tmp_path, "--fail-on", "high").returncode == 1
    lines = run(tmp_path, "--format", "jsonl").stdout.splitlines()
    assert lines and all(json.loads(x)["file"].endswith("policy.yaml") for x in lines)
    sarif = json.loads(run(tmp_path, "--format", "sarif").stdout)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert len(results) == len(lines) and results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    ids = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert all(r["ruleId"] in ids for r in results)
    base = tmp_path / "baseline.jsonl"
    base.write_text("\n".join(lines) + "\n")
    again = run(tmp_path, "--baseline", base, "--fail-on", "low")
    assert again.returncode == 0 and "already in the baseline" in again.stderr
    (tmp_path / "policy.yaml").write_text(BAD_POLICY + "  call_frequency: {mode: off}\n")
    new = run(tmp_path, "--baseline", base, "--format", "jsonl")
    assert [json.loads(x)["subject"] for x in new.stdout.splitlines()] == ["rules.call_frequency (top level)"]


def test_nothing_found_says_what_was_read(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    r = run(tmp_path)
    assert r.returncode == 0 and "no Asterisk, FreeSWITCH, Kamailio or policy file found" in r.stderr


def test_a_bad_baseline_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "policy.yaml").write_text(BAD_POLICY)
    (tmp_path / "b.jsonl").write_text("not json\n")
    r = run(tmp_path, "--baseline", tmp_path / "b.jsonl")
    assert r.returncode == 2 and "b.jsonl:1" in r.stderr and "Traceback" not in r.stderr


def test_a_failed_audit_is_sent_on_notifys_channels(tmp_path):
    with webhook() as (url, got):
        notify = tmp_path / "notify.yaml"
        notify.write_text(f"channels:\n  - {{name: soc, type: webhook, url: '{url}'}}\n")
        (tmp_path / "cfg").mkdir()
        (tmp_path / "cfg" / "policy.yaml").write_text(BAD_POLICY)
        assert run(tmp_path / "cfg", "--fail-on", "high", "--notify", notify).returncode == 1
        assert [m["type"] for m in got] == ["audit_failure"] and "policy-rule-off" in got[0]["reason"]
        assert run(tmp_path / "cfg", "--fail-on", "critical", "--notify", notify).returncode == 0 and len(got) == 1


def test_hidden_and_package_folders_are_not_walked(tmp_path):
    from streams.audit import files_under
    for d in (".venv/lib", ".git", "node_modules/x", "etc/asterisk"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "sip.conf").write_text("[general]\n")
    assert files_under([str(tmp_path)]) == [tmp_path / "etc" / "asterisk" / "sip.conf"]


def test_the_kamailio_configurations_tollguard_ships_pass_its_own_audit():
    """docs/kamailio/ is what operators copy: tollguard audit finds nothing in it (the verdict config
    had no pike, kamailio-no-antiflood, until the flood test in tests/streams/services/verdict)."""
    out = run(ROOT / "docs" / "kamailio", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["check"] for line in out.stdout.splitlines() if line.strip()] == []
