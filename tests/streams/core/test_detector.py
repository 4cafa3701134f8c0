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


def test_a_report_mode_detection_earlier_than_its_incident_records_no_block():
    """A detection that joins its open incident earlier than the first moves the blocks that incident ordered;
    a report-mode rule ordered none, so none is recorded (global_blocklist reads them). Found by the second read
    of the engine's port of emit: the reference recorded one."""
    from streams.core.detector import Ctx, Detector
    from streams.rules.contract import Order
    from streams.state import IpState

    def blocks_after(mode: str) -> dict:
        pol = policy(f"rules:\n  registration_lockout: {{mode: {mode}}}")
        det, tenant, st, out = Detector(pol), pol.tenant("default"), IpState(), []
        for at in (1_700_000_100.0, 1_700_000_050.0):  # the second is earlier: it joins and moves the start
            Ctx(det, tenant, None, at, "ip", "ip:203.0.113.9", st, out).emit(
                "registration_lockout", "alert", "ip", "203.0.113.9", "s", {}, [Order("block_ip", "203.0.113.9", 600, None)],
                at=at, span=600.0)
        return st.blocks

    assert blocks_after("report") == {}
    assert blocks_after("enforce") == {"default": [[1_700_000_050.0, 1_700_000_700.0]]}
