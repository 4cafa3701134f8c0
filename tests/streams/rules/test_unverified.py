"""Failures that prove no round trip over UDP alert, but block only beside a proven one (issue 25.2).

"No matching peer found" over UDP needs no answer from the sender: anyone can write a victim's
address as the source of such a REGISTER. ``round_trip`` false marks them (the log parsers set it).
"""
import pytest

from tests.builders import actions, alerts, policy, run, run_any_order, sec

VICTIM = "198.51.100.77"  # e.g. the carrier's SIP trunk, whose address a spoofer writes as the source


def no_peer(t, ip=VICTIM, protocol="udp", round_trip=False, account="1001"):
    ev = sec(t=t, ip=ip, action="register", account=account, outcome="failure", reason="No matching peer found",
             round_trip=round_trip)
    if protocol:
        ev["protocol"] = protocol
    return ev


def test_twenty_spoofed_udp_failures_alert_without_a_block():
    out = run([no_peer(i) for i in range(20)])
    a = alerts(out, "registration_lockout")
    assert a and "not_blocked" in a[0].evidence
    assert not actions(out, "block_ip") and not actions(out, "lock_account")


def test_without_a_transport_they_are_unproven_too():
    out = run([no_peer(i, protocol=None) for i in range(20)])
    assert alerts(out, "registration_lockout") and not actions(out)


def test_the_switch_blocks_them():
    pol = policy("block_on_unverified_udp: true")
    out = run([no_peer(i) for i in range(20)], pol)
    assert [a.target for a in actions(out, "block_ip")] == [VICTIM]
    assert {a.from_ip for a in actions(out, "lock_account")} == {VICTIM}


@pytest.mark.parametrize("protocol", ["tcp", "tls", "ws"])
def test_failures_over_a_connection_block(protocol):
    out = run([no_peer(i, protocol=protocol) for i in range(20)])
    assert [a.target for a in actions(out, "block_ip")] == [VICTIM]


@pytest.mark.parametrize("round_trip", [True, None])
def test_a_challenge_answered_wrongly_or_a_legacy_feed_blocks(round_trip):
    out = run([no_peer(i, round_trip=round_trip) for i in range(20)])
    assert [a.target for a in actions(out, "block_ip")] == [VICTIM]


def test_one_proven_failure_among_the_counted_ones_blocks_in_any_order():
    evs = [no_peer(i) for i in range(9)] + [no_peer(9, round_trip=True)]
    for out in (run(evs), run(list(reversed(evs))), run_any_order(evs)):
        assert [a.target for a in actions(out, "block_ip")] == [VICTIM]


def test_a_proven_failure_after_the_unproven_alert_still_blocks():
    """The unproven alert is its own incident, so the proven one that follows is not folded into it."""
    evs = [no_peer(i) for i in range(20)] + [no_peer(30, round_trip=True)]
    out = run(evs)
    assert len(alerts(out, "registration_lockout")) == 2
    assert [a.target for a in actions(out, "block_ip")] == [VICTIM]


def test_spoofed_probes_do_not_block_the_forged_address():
    probe = lambda t, rt: sec(t=t, ip=VICTIM, action="invite", outcome="failure", dialled="00441134900292",  # noqa: E731
                              protocol="udp", round_trip=rt, reason="extension not found")
    out = run([probe(i, False) for i in range(60)])
    assert alerts(out, "inbound_probe") and not actions(out, "block_ip")
    out = run([probe(i, True) for i in range(60)])
    assert [a.target for a in actions(out, "block_ip")] == [VICTIM]


def test_a_spoofed_udp_flood_does_not_block_through_auto_defense():
    flood = [sec(t=i * 0.01, ip=VICTIM, outcome="failure", protocol="udp", round_trip=False, action="options")
             for i in range(60)]
    out = run(flood)
    assert alerts(out, "auto_defense") and not actions(out, "block_ip")
    for ev in flood:
        ev["round_trip"] = None
    assert [a.target for a in actions(run(flood), "block_ip")] == [VICTIM]


def test_a_spoofed_scanner_user_agent_does_not_block():
    ev = sec(ip=VICTIM, outcome="failure", protocol="udp", round_trip=False, user_agent="friendly-scanner")
    out = run([ev])
    assert alerts(out, "scanner_user_agent") and not actions(out, "block_ip")
    ev["protocol"] = "tcp"
    assert [a.target for a in actions(run([ev]), "block_ip")] == [VICTIM]


def test_account_lockout_locks_only_for_the_sources_that_proved_a_round_trip():
    evs = [no_peer(i * 5, ip=f"198.51.100.{10 + i % 2}", round_trip=(i % 2 == 0) or False) for i in range(10)]
    locks = [a for a in actions(run(evs), "lock_account") if a.reason.startswith("Account 1001 locked")]
    assert [a.from_ip for a in locks] == ["198.51.100.10"]


def test_the_same_alerts_in_any_order():
    """Whether a detection blocks is read from its window alone: arrival order changes no alert id."""
    evs = ([no_peer(i * 3, account=f"10{i % 4:02d}") for i in range(30)]
           + [no_peer(200 + i, ip="198.51.100.78", protocol="tcp", round_trip=None) for i in range(12)]
           + [no_peer(400 + i, round_trip=True) for i in range(2)])
    want = sorted(a.alert_id for a in alerts(run(evs)))
    assert want
    for order in (list(reversed(evs)), evs[::2] + evs[1::2]):
        assert sorted(a.alert_id for a in alerts(run_any_order(order))) == want
