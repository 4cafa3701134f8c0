"""Every rule has a mode: enforce (alert + action), report (alert only), off."""
from tests.builders import actions, alerts, cdr, policy, run


def test_enforce_report_off():
    calls = [cdr(dst="09098790000")]
    assert alerts(run(calls), "premium_rate") and actions(run(calls))
    rep = run(calls, policy("rules:\n  premium_rate: {mode: report}"))
    assert alerts(rep, "premium_rate")[0].mode == "report" and not actions(rep)
    assert not run(calls, policy("rules:\n  premium_rate: {mode: 'off'}"))


def test_severity_override():
    out = run([cdr(dst="09098790000")], policy("rules:\n  premium_rate: {severity: warning}"))
    assert alerts(out, "premium_rate")[0].severity == "warning"


def test_alert_ids_are_deterministic_and_distinct():
    evs = [cdr(t=0, dst="09098790000", src="1001"), cdr(t=1, dst="09098790000", src="1002")]
    a, b = run(evs), run(evs)
    assert [x.alert_id for x in alerts(a)] == [x.alert_id for x in alerts(b)]
    assert len({x.alert_id for x in alerts(a)}) == 2
