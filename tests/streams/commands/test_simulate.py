import hashlib
import json

import pytest

from streams.domain.events import decode_event
from streams.policy import Policy
from streams.commands.simulate import SCENARIOS, simulate


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


def test_labels_say_what_each_attack_did_and_the_events_bear_it_out(tmp_path):
    """labels_version 2 (issue 26.6): each scenario lists its tenant and the sources, accounts, call ids
    and numbers it used, so evaluate can credit an alert that names the attacked account or the
    attacking address rather than only a subject. Every one of them is in the events."""
    from streams.reference.numbers import number_plan
    meta = simulate(2, 11, tmp_path, tenants=2, extensions=15)
    plan = number_plan("GB", ["00", "+"], "0")
    ips, accounts, calls, numbers = set(), set(), set(), set()
    for line in (tmp_path / "events.jsonl").read_bytes().splitlines():
        ev = json.loads(line)
        ips.add((ev["tenant"], ev.get("src_ip")))
        accounts.add((ev["tenant"], ev.get("account") or ev.get("src")))
        if ev["type"] == "cdr":
            calls.add((ev["tenant"], ev["call_id"]))
            for n in (ev["dst"], ev["src"], ev.get("diversion") or ""):
                info = plan.classify(n if n.startswith(("0", "+")) else "00" + n)
                numbers.add((ev["tenant"], info.e164 or "+" + n.lstrip("0")))
    assert meta["labels_version"] == 2
    for sc in meta["scenarios"]:
        t = sc["tenant"]
        assert t in meta["tenants"]
        assert {(t, s) for s in sc["sources"]} <= ips, sc["name"]
        assert {(t, a) for a in sc["accounts"]} <= accounts, sc["name"]
        assert {(t, c) for c in sc["calls"]} <= calls and set(sc["fraud_calls"]) <= set(sc["calls"]), sc["name"]
        assert {(t, n) for n in sc["numbers"]} <= numbers, sc["name"]
        assert all(n.startswith("+") and n[1:].isdigit() for n in sc["numbers"])
    by = {sc["name"]: sc for sc in meta["scenarios"]}
    assert len(by["distributed_brute_force"]["sources"]) == 300 and len(by["credential_stuffing"]["sources"]) == 3
    assert by["credential_stuffing"]["accounts"] and by["sip_scanner"]["accounts"]
    assert len(by["wangiri"]["calls"]) == 30 + len(by["wangiri"]["fraud_calls"])
    assert by["forwarding_abuse"]["numbers"] and any(n.startswith("+44") for n in by["forwarding_abuse"]["numbers"])


def test_every_expected_rule_is_a_rule():
    from streams.domain.ruleids import RULE_IDS
    from streams.commands.simulate import EXPECTED
    assert set(EXPECTED) == set(SCENARIOS)
    assert {r for rules in EXPECTED.values() for r in rules} <= set(RULE_IDS)
