import pytest
from tests.builders import actions, alerts, at, cdr, policy, run

POL = "trunks:\n  sip1: {max_concurrent_calls: 3}"


@pytest.mark.parametrize("n,fires", [(3, False), (4, True)])
def test_completed_overlapping_calls(n, fires):
    # n calls that all overlap in [50, 100); CDRs arrive in end order
    evs = [cdr(t=i * 10, call_id=f"c{i}", dst=f"0207946000{i}", trunk="sip1", end=at(100 + i)) for i in range(n)]
    assert bool(alerts(run(evs, policy(POL)), "trunk_concurrency")) is fires


def test_back_to_back_calls_do_not_overlap():
    evs = [cdr(t=i * 10, call_id=f"c{i}", dst="02079460001", trunk="sip1", end=at(i * 10 + 10)) for i in range(8)]
    assert not alerts(run(evs, policy(POL)), "trunk_concurrency")


def test_long_call_reported_after_short_ones():
    # a long call arrives last but overlapped three short ones that were in progress together
    evs = [cdr(t=10 + i, call_id=f"s{i}", trunk="sip1", end=at(50)) for i in range(3)]
    evs.append(cdr(t=0, call_id="long", trunk="sip1", end=at(500)))
    out = run(evs, policy(POL))
    assert alerts(out, "trunk_concurrency")[0].evidence["concurrent"] == 4


@pytest.mark.parametrize("n,fires", [(3, False), (4, True)])
def test_live_start_end_pairs(n, fires):
    evs = [cdr(t=i, call_id=f"l{i}", trunk="sip1", phase="start") for i in range(n)]
    out = run(evs, policy(POL))
    assert bool(alerts(out, "trunk_concurrency")) is fires
    if fires:
        assert actions(out, "hangup_call")[0].target == f"l{n - 1}"


def test_ended_live_calls_free_the_trunk():
    evs = []
    for i in range(6):
        evs.append(cdr(t=i * 10, call_id=f"l{i}", trunk="sip1", phase="start"))
        evs.append(cdr(t=i * 10, call_id=f"l{i}", trunk="sip1", end=at(i * 10 + 5)))
    assert not alerts(run(evs, policy(POL)), "trunk_concurrency")


def test_default_limit_is_thirty():
    evs = [cdr(t=i, call_id=f"x{i}", trunk="other", phase="start") for i in range(31)]
    out = run(evs)
    assert alerts(out, "trunk_concurrency")[0].evidence["limit"] == 30
    assert not alerts(run(evs[:30]), "trunk_concurrency")
