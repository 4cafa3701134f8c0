"""forwarding_abuse: a call placed by forwarding, transfer or diversion to a premium number or abroad."""

import pytest

from tests.builders import actions, alerts, cdr, policy, run

INTL = policy("extensions:\n  '1001': {international: true}\n")


@pytest.mark.parametrize("field,kind", [("forwarded_from", "forwarded"), ("transferred_by", "transferred"),
                                        ("diversion", "diversion")])
def test_placed_by_forwarding_transfer_or_diversion_abroad(field, kind):
    out = run([cdr(dst="0033142868200", billsec=60, **{field: "1007"})], INTL)
    [a] = alerts(out, "forwarding_abuse")
    assert a.evidence["placed_by"] == kind
    barred = "1001" if kind == "diversion" else "1007"
    assert a.subject == barred and ("disable_outbound", barred) in {(x.kind, x.target) for x in actions(out)}


def test_a_live_forwarded_premium_call_is_cut_and_the_number_blocked():
    out = run([cdr(dst="09098790000", call_id="f1", phase="start", forwarded_from="1001")], policy())
    mine = {(x.kind, x.target) for x in actions(out)
            if x.alert_id in {a.alert_id for a in alerts(out, "forwarding_abuse")}}
    assert {("hangup_call", "f1"), ("block_number", "+449098790000")} <= mine


def test_ordinary_calls_and_allowed_forwarding_raise_nothing():
    assert not alerts(run([cdr(dst="0033142868200", billsec=60)], INTL), "forwarding_abuse")  # not forwarded
    assert not alerts(run([cdr(dst="02071838750", billsec=60, forwarded_from="1001")]), "forwarding_abuse")  # national
    allowed = policy("forwarding: {international: true}\nextensions:\n  '1001': {international: true}\n")
    assert not alerts(run([cdr(dst="0033142868200", billsec=60, forwarded_from="1001")], allowed), "forwarding_abuse")
    assert alerts(run([cdr(dst="09098790000", billsec=60, forwarded_from="1001")], allowed), "forwarding_abuse")


def test_the_columns_can_be_mapped_from_any_csv(tmp_path):
    from streams.intake import decoded, read_events
    from streams.intake.mapped import load_mapping
    (tmp_path / "map.yaml").write_text("columns: {start: when, src: from, dst: to, billsec: talk, "
                                       "forwarded_from: fwd, direction: dir}\n")
    (tmp_path / "x.csv").write_text("when,from,to,talk,fwd,dir\n2026-03-04 10:00:00,1001,0033142868200,60,1001,out\n")
    [rec] = [r for r in decoded(read_events([str(tmp_path / "x.csv")], "csv", mapping=load_mapping(str(tmp_path / "map.yaml"))))]
    assert rec[4] is None and rec[3].forwarded_from == "1001"
