"""High-risk number ranges: the table, its file, the rule, and replay --ranges."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.policy import Policy, PolicyError
from streams.reference.ranges import RangeError, RangeTable, parse_range
from streams.kafka.ranges import apply
from tests.builders import T0, actions, alerts, cdr, policy, run

ROOT = Path(__file__).resolve().parents[3]
INTL = "extensions:\n  '1001': {international: true}\nallowed_countries: [GB, DE, FR]\n"


def test_longest_prefix_wins_and_expired_listings_do_not_match():
    t = RangeTable([parse_range("+49", "country"), parse_range("+4930123", "IRSF test", "feed", "2026-03-01")])
    assert t.match("+49301234567", T0.timestamp()).label == "country"  # the longer one expired on 1 March
    assert t.match("+49301234567", T0.timestamp() - 30 * 86400).label == "IRSF test"
    assert t.match("+33142868200", T0.timestamp()) is None


@pytest.mark.parametrize("bad", ["4930", "+0123", "+1234567890123456", "abc"])
def test_bad_prefixes_are_refused(bad):
    with pytest.raises(RangeError):
        parse_range(bad, "x")


def test_a_file_with_a_bad_line_is_refused_with_its_line(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("prefix,label,source,expires\n+4930123,IRSF,feed,2027-01-01\n# comment\n+49301,x,y,tomorrow\n")
    with pytest.raises(RangeError, match=r"r.csv:4: expires"):
        RangeTable.load(f)


def test_a_call_into_a_listed_range_is_cut_and_the_prefix_blocked_until_the_listing_ends(tmp_path):
    (tmp_path / "ranges.csv").write_text("prefix,label,source,expires\n+4930123,IRSF test number,feed-x,2026-03-05\n")
    (tmp_path / "policy.yaml").write_text("home_country: GB\nnational_prefix: '0'\ninternational_prefix: ['00', '+']\n"
                                          f"ranges: ranges.csv\n{INTL}")
    pol = Policy.load(tmp_path / "policy.yaml")
    out = run([cdr(dst="0049301234567", call_id="r1", phase="start")], pol)
    [a] = alerts(out, "high_risk_range")
    assert a.evidence["range"] == "+4930123" and a.evidence["listed_by"] == "feed-x"
    mine = {(x.kind, x.target) for x in actions(out) if x.alert_id == a.alert_id}
    assert {("hangup_call", "r1"), ("block_number", "+4930123")} <= mine
    left = next(x.duration_s for x in actions(out, "block_number") if x.alert_id == a.alert_id)
    assert 0 < left <= 2 * 86400
    assert not alerts(run([cdr(dst="0049307654321", billsec=30)], pol), "high_risk_range")


def test_a_policy_naming_a_missing_ranges_file_does_not_load(tmp_path):
    (tmp_path / "policy.yaml").write_text("home_country: GB\nranges: nope.csv\n")
    with pytest.raises(PolicyError, match="policy.yaml:2: ranges: cannot read the ranges"):
        Policy.load(tmp_path / "policy.yaml")


def test_shared_ranges_apply_to_every_tenant_and_stay_live():
    pol = policy(INTL)
    live = RangeTable()
    pol.add_ranges(live)
    assert not alerts(run([cdr(dst="0049301234567", billsec=30)], pol), "high_risk_range")
    # a record from the ranges topic, after the policy was built: seen at once, by a tenant not listed too
    assert apply(live, b"+4930123", json.dumps({"prefix": "+4930123", "label": "IRSF"}).encode())
    assert alerts(run([cdr(dst="0049301234567", billsec=30)], pol), "high_risk_range")
    assert pol.tenant("someone-else").ranges.match("+49301234567", T0.timestamp()) is not None
    assert apply(live, b"+4930123", None)  # a tombstone takes it off
    assert not alerts(run([cdr(dst="0049301234567", billsec=30)], pol), "high_risk_range")
    assert not apply(live, b"+49", b"not json")


def test_replay_takes_ranges(tmp_path):
    (tmp_path / "r.csv").write_text("+4930123,IRSF,feed,\n")
    (tmp_path / "p.yaml").write_text("home_country: GB\nnational_prefix: '0'\ninternational_prefix: ['00', '+']\n" + INTL)
    ev = cdr(dst="0049301234567", billsec=30)
    (tmp_path / "e.jsonl").write_text(json.dumps(ev) + "\n")
    args = [sys.executable, "-m", "streams.cli", "replay", "--no-model", "-q", "--format", "jsonl",
            "--policy", str(tmp_path / "p.yaml"), str(tmp_path / "e.jsonl")]
    plain = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    ranged = subprocess.run(args[:-1] + ["--ranges", str(tmp_path / "r.csv"), args[-1]], cwd=ROOT,
                            capture_output=True, text=True)
    assert '"high_risk_range"' not in plain.stdout and '"high_risk_range"' in ranged.stdout
    bad = subprocess.run(args[:-1] + ["--ranges", str(tmp_path / "missing.csv"), args[-1]], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--ranges" in bad.stderr
