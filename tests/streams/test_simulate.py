import hashlib
import json

import pytest

from streams.events import decode_event
from streams.policy import Policy
from streams.simulate import SCENARIOS, simulate


def digest(d):
    return {f: hashlib.sha256((d / f).read_bytes()).hexdigest() for f in ("events.jsonl", "labels.json", "policy.yaml")}


def test_same_seed_same_bytes_other_seed_other_traffic(tmp_path):
    simulate(2, 5, tmp_path / "a", extensions=20)
    simulate(2, 5, tmp_path / "b", extensions=20)
    simulate(2, 6, tmp_path / "c", extensions=20)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["events.jsonl"] != digest(tmp_path / "c")["events.jsonl"]


def test_output_is_the_contract_time_ordered_and_labelled(tmp_path):
    meta = simulate(3, 11, tmp_path, tenants=2, extensions=15)
    times = []
    for line in (tmp_path / "events.jsonl").read_bytes().splitlines():
        times.append(decode_event(line).ts)
    assert times == sorted(times) and len(times) == meta["events"]
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert [s["name"] for s in labels["scenarios"]] == list(SCENARIOS)
    assert all(s["start"] <= s["end"] and s["subjects"] and s["expected_rules"] for s in labels["scenarios"])
    assert labels["tenants"] == ["pbx01", "pbx02"] and labels["extensions"] == 30
    Policy.load(tmp_path / "policy.yaml")


def test_benign_traffic_has_business_shape(tmp_path):
    simulate(7, 3, tmp_path, extensions=40, scenarios=["sip_scanner"])
    from datetime import datetime
    from zoneinfo import ZoneInfo
    hours, weekend = [], 0
    for line in (tmp_path / "events.jsonl").read_bytes().splitlines():
        ev = json.loads(line)
        if ev["type"] == "cdr" and ev.get("phase") != "start" and ev.get("direction") == "outbound":
            local = datetime.fromisoformat(ev["start"].replace("Z", "+00:00")).astimezone(ZoneInfo("Europe/London"))
            hours.append(local.hour)
            weekend += local.weekday() >= 5
    assert len(hours) > 500
    assert sum(1 for h in hours if 8 <= h < 18) / len(hours) > 0.9
    assert hours.count(12) < hours.count(10)        # lunch dip
    assert weekend / len(hours) < 0.05


def test_unknown_scenario_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown scenario"):
        simulate(1, 1, tmp_path, scenarios=["toll_free_party"])
