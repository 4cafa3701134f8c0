"""The evaluator's arithmetic on a hand-made case."""

import json
from datetime import datetime, timedelta, timezone

from streams.commands.evaluate import evaluate, score
from streams.domain.events import Action, Alert
from streams.policy import Policy
from streams.shells.replay import replay_file

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)


def alert(sec, rule, stype, subject, tenant="default", aid=None):
    return Alert(alert_id=aid or f"a{sec}{subject}", ts=T0 + timedelta(seconds=sec), tenant=tenant, rule=rule,
                 severity="alert", subject_type=stype, subject=subject, summary="", evidence={}, mode="enforce")


def action(sec, kind, target, tenant="default"):
    return Action(action_id=f"x{sec}", ts=T0 + timedelta(seconds=sec), tenant=tenant, kind=kind, target=target,
                  duration_s=3600, alert_id="a", reason="")


def call(cid, sec, cost, src="1001"):
    return {"call_id": cid, "start": T0 + timedelta(seconds=sec), "cost": cost, "src": src, "tenant": "default"}


LABELS = {"days": 2, "extensions": 10, "scenarios": [
    {"name": "pump", "start": "2026-11-02T02:00:00Z", "end": "2026-11-02T02:10:00Z", "subjects": ["ext:default/1001"],
     "expected_rules": ["premium_rate"], "fraud_calls": ["c1", "c2", "c3", "c4"]},
    {"name": "scan", "start": "2026-11-02T03:00:00Z", "end": "2026-11-02T03:01:00Z", "subjects": ["ip:203.0.113.9"],
     "expected_rules": ["scanner_user_agent"], "fraud_calls": []},
    {"name": "quiet", "start": "2026-11-02T05:00:00Z", "end": "2026-11-02T06:00:00Z", "subjects": ["ext:default/1002"],
     "expected_rules": ["anomaly"], "fraud_calls": ["q1"]},
]}
CALLS = {"c1": call("c1", 0, 10.0), "c2": call("c2", 60, 20.0), "c3": call("c3", 120, 30.0), "c4": call("c4", 180, 40.0),
         "q1": call("q1", 3 * 3600, 5.0, src="1002")}


def test_hand_made_case():
    records = [
        alert(90, "premium_rate", "extension", "1001"),            # pump detected after 90 s
        action(90, "disable_outbound", "1001"),                     # blocked at 90 s: c1, c2 started before
        alert(100, "call_frequency", "extension", "1001"),
        alert(3600 + 30, "scanner_user_agent", "ip", "203.0.113.9"),  # scan detected after 30 s
        alert(7200, "time_condition", "extension", "1005"),       # benign extension: a false alert
        alert(9000, "daily_calls", "extension", "1001"),          # attacked subject, long after: false too
    ]
    r = score(LABELS, records, CALLS)
    pump, scan, quiet = r["scenarios"]
    assert pump == {"name": "pump", "detected": True, "time_to_detect_s": 90.0, "fraud_calls": 4,
                    "fraud_calls_before_block": 2, "fraud_cost_before_block": 30.0, "fraud_cost_total": 100.0,
                    "rules": ["call_frequency", "premium_rate"], "expected_rules": ["premium_rate"],
                    "missed_rules": []}
    assert scan["detected"] and scan["time_to_detect_s"] == 30.0 and scan["fraud_calls"] == 0
    assert not quiet["detected"] and quiet["time_to_detect_s"] is None and quiet["fraud_cost_before_block"] == 5.0
    assert r["detection_rate"] == round(2 / 3, 4)
    assert r["median_time_to_detect_s"] == 60.0
    assert r["false_alerts"] == 2
    late = r["false_alert_list"][1]
    assert late["rule"] == "daily_calls" and "outside pump's window" in late["reason"]
    # 10 extensions x 2 days: an attacked extension's other hours can carry false alerts too
    assert r["false_alerts_per_1k_extension_days"] == round(2000 / 20, 3)
    assert r["loss_prevented"] == 70.0


def test_hangups_do_not_count_as_calls_before_block():
    records = [alert(0, "premium_rate", "extension", "1001"), Action(
        action_id="h", ts=T0, tenant="default", kind="hangup_call", target="c1", duration_s=None, alert_id="a", reason="")]
    r = score(LABELS, records, CALLS)
    assert r["scenarios"][0]["fraud_calls_before_block"] == 3  # no block: c2..c4, c1 was cut


def test_committed_sim_day_meets_the_rule_targets():
    from pathlib import Path
    r = evaluate(Path(__file__).resolve().parents[3] / "fixtures" / "sim-day")
    missed = [s["name"] for s in r["scenarios"] if not s["detected"]]
    assert missed == ["slow_pumping"]          # the anomaly model's job
    assert r["median_time_to_detect_s"] < 60
    assert r["false_alerts_per_1k_extension_days"] < 1
    assert set(r) >= {"scenarios", "detection_rate", "median_time_to_detect_s", "false_alerts_per_1k_extension_days",
                      "loss_prevented"}


def test_spend_cap_scenario_and_what_spend_limit_saves(tmp_path):
    """The money rule on its own scenario: with a live feed the cap cuts the calls while they run, so
    most of the fraud is saved; with completed CDRs only it learns of the money after it was spent."""
    from streams.commands.simulate import simulate
    live, cdrs = tmp_path / "live", tmp_path / "cdrs"
    simulate(2, 5, live, scenarios=["spend_cap"])
    simulate(2, 5, cdrs, scenarios=["spend_cap"], live=False)
    r = evaluate(live, without=["spend_limit"])
    [sc] = r["scenarios"]
    assert sc["detected"] and "spend_limit" in sc["rules"]
    assert sc["fraud_cost_before_block_without"] == sc["fraud_cost_total"] > 300  # nothing else bars it
    assert sc["fraud_cost_before_block"] < 0.25 * sc["fraud_cost_total"]
    assert sc["saved_by"] == round(sc["fraud_cost_total"] - sc["fraud_cost_before_block"], 2)
    assert r["false_alerts"] == 0
    [late] = evaluate(cdrs, without=["spend_limit"])["scenarios"]
    assert "spend_limit" in late["rules"] and late["saved_by"] < sc["saved_by"]


def test_with_rules_off_switches_them_off_in_every_tenant():
    from streams.policy import Policy
    pol = Policy.from_yaml("rules: {premium_rate: {mode: report}}\ntenants:\n  acme: {home_country: GB}\n")
    off = pol.with_rules_off(["spend_limit", "premium_rate"])
    for name in ("default", "acme", "never-listed"):
        assert off.tenant(name).rule("spend_limit").mode == "off"
        assert off.tenant(name).rule("premium_rate").mode == "off"
        assert pol.tenant(name).rule("spend_limit").mode == "enforce"  # the original is untouched


def test_account_takeover_scenario_is_caught_at_the_first_call(tmp_path):
    from streams.commands.simulate import simulate
    simulate(3, 5, tmp_path, scenarios=["account_takeover"])
    r = evaluate(tmp_path, without=["account_takeover"])
    [sc] = r["scenarios"]
    assert "account_takeover" in sc["rules"] and sc["fraud_cost_before_block"] == 0.0
    assert sc["fraud_cost_before_block_without"] > 0 and sc["saved_by"] > 0
    assert r["false_alerts"] == 0


def test_forwarding_abuse_scenario_is_seen_only_by_who_placed_the_calls(tmp_path):
    from streams.commands.simulate import simulate
    simulate(2, 5, tmp_path, scenarios=["forwarding_abuse"])
    r = evaluate(tmp_path, without=["forwarding_abuse"])
    [sc] = r["scenarios"]
    assert sc["detected"] and "forwarding_abuse" in sc["rules"] and sc["fraud_cost_before_block"] == 0.0
    assert sc["fraud_cost_before_block_without"] == sc["fraud_cost_total"] > 0  # no other rule stops it
    assert r["false_alerts"] == 0


def test_wangiri_callbacks_are_alerted_on_the_staff_who_call_back(tmp_path):
    from streams.commands.simulate import simulate
    simulate(2, 5, tmp_path, scenarios=["wangiri"])
    labels = json.loads((tmp_path / "labels.json").read_text())
    [sc] = labels["scenarios"]
    victims = {s.split("/", 1)[1] for s in sc["subjects"]}
    out, _, _ = replay_file([str(tmp_path / "events.jsonl")], Policy.load(tmp_path / "policy.yaml"))
    called_back = {a.subject for a in out if isinstance(a, Alert) and a.rule == "wangiri_inbound"
                   and a.subject_type == "extension"}
    assert called_back == victims


# -- crediting (issue 26.6): a scenario owns every alert whose subject or evidence names what it did --

def _alert(sec, rule, stype, subject, evidence, tenant="default"):
    a = alert(sec, rule, stype, subject, tenant)
    a.evidence = evidence
    return a


STUFFING = {"days": 1, "extensions": 10, "labels_version": 2, "scenarios": [
    {"name": "credential_stuffing", "start": "2026-11-02T02:00:00Z", "end": "2026-11-02T02:20:00Z",
     "subjects": ["ip:203.0.113.1", "ip:203.0.113.2"], "expected_rules": ["login_lockout"], "fraud_calls": [],
     "tenant": "default", "sources": ["203.0.113.1", "203.0.113.2"], "accounts": ["1003", "1004"], "calls": [],
     "numbers": []},
    {"name": "fast_pumping", "start": "2026-11-02T04:00:00Z", "end": "2026-11-02T04:05:00Z",
     "subjects": ["ext:default/1007"], "expected_rules": ["premium_rate", "call_frequency"], "fraud_calls": ["f1"],
     "tenant": "default", "sources": [], "accounts": ["1007"], "calls": ["f1"], "numbers": ["+37090012345"]},
    {"name": "account_takeover", "start": "2026-11-02T04:03:00Z", "end": "2026-11-02T04:30:00Z",
     "subjects": ["ext:default/1007", "ip:198.51.100.7"], "expected_rules": ["account_takeover"],
     "fraud_calls": ["t1"], "tenant": "default", "sources": ["198.51.100.7"], "accounts": ["1007"], "calls": ["t1"],
     "numbers": ["+5371230000"]},
]}
STUFF_CALLS = {"f1": {**call("f1", 2 * 3600, 9.0, src="1007"), "e164": "+37090012345"},
               "t1": {**call("t1", 2 * 3600 + 240, 5.0, src="1007"), "e164": "+5371230000"},
               "b1": {**call("b1", 60, 0.5, src="1003"), "e164": "+441632960001"}}


def test_an_account_lockout_naming_the_stuffers_addresses_is_the_stuffings():
    """The seed-9137 case: the account is not a label subject, but the alert's evidence names the
    attacking addresses; it was called false (60.6 per 1k extension-days)."""
    lock = _alert(300, "account_lockout", "account", "1009",
                  {"failures": 5, "seconds": 600, "kind": "login", "sources": ["203.0.113.1", "203.0.113.2"]})
    r = score(STUFFING, [lock], STUFF_CALLS)
    assert r["false_alerts"] == 0 and r["false_alert_list"] == []
    assert r["scenarios"][0]["rules"] == ["account_lockout"]
    assert r["rules"]["account_lockout"]["precision"] == 1.0


def test_an_attacked_account_owns_its_security_alerts_but_not_its_owners_calls():
    quiet = _alert(400, "account_lockout", "account", "1003", {"failures": 5, "seconds": 600})
    call_alert = _alert(420, "time_condition", "extension", "1004", {"call_id": "b1", "src": "1004"})
    r = score(STUFFING, [quiet, call_alert], STUFF_CALLS)
    assert r["scenarios"][0]["rules"] == ["account_lockout"]
    [false] = r["false_alert_list"]
    assert false["alert_id"] == call_alert.alert_id
    assert "b1" in false["reason"] and "credential_stuffing" in false["reason"]


def test_an_alert_naming_one_scenarios_call_is_not_credited_to_another_on_the_same_extension():
    """Two scenarios on extension 1007 overlap in time: the alert that names fast_pumping's call is
    fast_pumping's, and does not make account_takeover 'detected'."""
    a = _alert(2 * 3600 + 200, "premium_rate", "extension", "1007", {"call_id": "f1", "e164": "+37090012345"})
    r = score(STUFFING, [a], STUFF_CALLS)
    fast, takeover = r["scenarios"][1], r["scenarios"][2]
    assert fast["detected"] and not takeover["detected"]
    assert r["false_alerts"] == 0


def test_numbers_credit_tenant_wide_alerts_never_an_extensions():
    wide = _alert(2 * 3600 + 600, "spend_limit", "tenant", "default",
                  {"window_seconds": 86400, "in_progress": [], "top_destinations": [{"destination": "+5371230000"}]})
    other = _alert(2 * 3600 + 600, "premium_rate", "extension", "1002", {"call_id": "zz", "e164": "+37090012345"})
    r = score(STUFFING, [wide, other], STUFF_CALLS)
    assert r["scenarios"][2]["rules"] == ["spend_limit"]
    assert [f["alert_id"] for f in r["false_alert_list"]] == [other.alert_id]


def test_a_scenarios_address_after_its_window_is_false_with_the_window_in_the_reason():
    late = _alert(2 * 3600, "login_lockout", "ip", "203.0.113.1", {"failures": 5})
    r = score(STUFFING, [late], STUFF_CALLS)
    [false] = r["false_alert_list"]
    assert "credential_stuffing" in false["reason"] and "window" in false["reason"]


def test_a_full_trunk_is_the_doing_of_the_scenario_with_most_calls_up_on_it():
    """The seed-9137 day: 24 pumping calls fill the trunk and a staff call is the 31st. The alert names
    the staff call; it is fast_pumping's (most calls up), not account_takeover's (one call up)."""
    def up(cid, sec, src="1007"):
        c = call(cid, sec, 1.0, src=src)
        return {**c, "end": c["start"] + timedelta(seconds=900), "trunk": "sip-default"}
    calls = dict(STUFF_CALLS)
    fast = [f"f{k}" for k in range(24)]
    calls.update({c: up(c, 2 * 3600) for c in fast})
    calls.update({f"s{k}": up(f"s{k}", 2 * 3600, src="1020") for k in range(7)})
    calls["t1"] = up("t1", 2 * 3600 + 240)
    labels = json.loads(json.dumps(STUFFING))
    labels["scenarios"][1]["calls"] = fast
    full = _alert(2 * 3600 + 300, "trunk_concurrency", "trunk", "sip-default",
                  {"concurrent": 32, "limit": 30, "call_id": "s6", "live": True})
    r = score(labels, [full], calls)
    assert r["scenarios"][1]["rules"] == ["trunk_concurrency"] and not r["scenarios"][2]["detected"]
    calls.update({f"s{k}": up(f"s{k}", 2 * 3600, src="1020") for k in range(40)})  # staff alone fill it
    r = score(labels, [full], calls)
    assert r["false_alerts"] == 1 and not r["scenarios"][1]["detected"]


def test_precision_and_recall_per_rule_and_overall():
    records = [
        _alert(100, "login_lockout", "ip", "203.0.113.1", {"failures": 5}),
        _alert(2 * 3600 + 1, "premium_rate", "extension", "1007", {"call_id": "f1"}),
        _alert(2 * 3600 + 2, "premium_rate", "extension", "1002", {"call_id": "b1"}),  # a staff call: false
    ]
    r = score(STUFFING, records, STUFF_CALLS)
    rules = r["rules"]
    assert rules["premium_rate"] == {"alerts": 2, "true_alerts": 1, "false_alerts": 1, "precision": 0.5,
                                     "expected": 1, "caught": 1, "recall": 1.0, "missed": []}
    assert rules["call_frequency"]["recall"] == 0.0 and rules["call_frequency"]["missed"] == ["fast_pumping"]
    assert rules["call_frequency"]["precision"] is None                  # it never alerted
    assert rules["account_takeover"]["missed"] == ["account_takeover"]
    assert r["precision"] == round(2 / 3, 4)
    assert r["recall"] == round(2 / 4, 4)                                # 4 expected (scenario, rule) pairs, 2 caught
    assert r["scenarios"][1]["missed_rules"] == ["call_frequency"]


def test_version_1_labels_still_score(tmp_path):
    """Labels without sources/accounts/calls/numbers (fixtures/sim-day) take them from subjects and fraud calls."""
    old = {k: v for k, v in STUFFING.items() if k != "labels_version"}
    old["scenarios"] = [{k: v for k, v in s.items() if k not in ("tenant", "sources", "accounts", "calls", "numbers")}
                        for s in STUFFING["scenarios"]]
    lock = _alert(300, "account_lockout", "account", "1009", {"sources": ["203.0.113.2"]})
    r = score(old, [lock], STUFF_CALLS)
    assert r["false_alerts"] == 0


def test_labels_from_the_future_are_refused(tmp_path):
    import pytest
    from streams.commands.evaluate import LabelsError, check_labels
    with pytest.raises(LabelsError, match="labels_version 3"):
        check_labels({**STUFFING, "labels_version": 3})
    with pytest.raises(LabelsError, match=r"scenario 1 \(fast_pumping\): `calls`"):
        check_labels({**STUFFING, "scenarios": [STUFFING["scenarios"][0], {**STUFFING["scenarios"][1], "calls": "f1"}]})


def test_seed_9137_day_has_no_false_alerts(tmp_path):
    """Issue 26.6: `tollguard simulate --seed 9137` then `evaluate` said 2 false alerts (60.6 per 1k
    extension-days), both account_lockout on an account credential stuffing attacked."""
    from streams.commands.simulate import simulate
    simulate(1, 9137, tmp_path)
    r = evaluate(tmp_path)
    assert r["false_alerts"] == 0, r["false_alert_list"]
    stuffing = next(s for s in r["scenarios"] if s["name"] == "credential_stuffing")
    assert "account_lockout" in stuffing["rules"]
    assert r["rules"]["account_lockout"]["precision"] == 1.0


def test_a_fresh_week_is_all_detected_with_no_false_alerts(tmp_path):
    """A week with a seed used nowhere else, scored as `tollguard evaluate` scores it (the shipped model
    on): every scenario detected, no false alert, the precision and recall of every rule reported."""
    import subprocess
    import sys
    from streams.commands.simulate import simulate
    simulate(7, 70707, tmp_path)  # 5813 was this test's seed until the model's gate was tuned on it (issue 26.5)
    out = subprocess.run([sys.executable, "-m", "streams.cli", "evaluate", str(tmp_path), "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    r = json.loads(out)
    assert r["false_alerts"] == 0, r["false_alert_list"]
    assert r["detection_rate"] == 1.0
    assert r["precision"] == 1.0
    assert set(r["rules"]) >= {rule for s in r["scenarios"] for rule in s["expected_rules"]}


def test_a_scenario_lasts_until_its_last_call_ends():
    """Seed 60606: fast_pumping started its calls within 3 s (the labels' end) and they talked for 10 min;
    spend_limit's next epoch, an hour after the start, summed their money naming a staff call in progress,
    and was called false because the window ended an hour after the last *start*."""
    labels = {"days": 1, "extensions": 10, "labels_version": 2, "scenarios": [
        {"name": "fast_pumping", "start": "2026-11-02T04:00:00Z", "end": "2026-11-02T04:00:03Z",
         "subjects": ["ext:default/1004"], "expected_rules": ["spend_limit"], "fraud_calls": ["p1"],
         "tenant": "default", "sources": [], "accounts": ["1004"], "calls": ["p1"], "numbers": ["+37090012345"]}]}
    start = datetime(2026, 11, 2, 4, 0, 0, tzinfo=timezone.utc)
    calls = {"p1": {**call("p1", 0, 40.0, src="1004"), "start": start, "end": start + timedelta(minutes=50),
                    "e164": "+37090012345"},
             "s1": {**call("s1", 0, 0.1, src="1004"), "start": start + timedelta(minutes=85)}}
    later = _alert(0, "spend_limit", "extension", "1004",
                   {"window_seconds": 3600, "in_progress": ["s1"], "top_destinations": [{"destination": "+37090012345"}]})
    later.ts = start + timedelta(minutes=90)  # past label end + 1 h, inside last call's end + 1 h
    r = score(labels, [later], calls)
    assert r["false_alerts"] == 0 and r["scenarios"][0]["rules"] == ["spend_limit"]
    too_late = _alert(0, "spend_limit", "extension", "1004", {"window_seconds": 3600, "in_progress": ["s1"]})
    too_late.ts = start + timedelta(minutes=115)  # past the last call's end + 1 h too
    assert score(labels, [too_late], calls)["false_alerts"] == 1
