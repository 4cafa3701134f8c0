import pytest
from tests.builders import actions, alerts, cdr, policy, run


@pytest.mark.parametrize("n,fires", [(5, False), (6, True)])
def test_default_is_five_calls_per_second(n, fires):
    out = run([cdr(t=i * 0.1, dst=f"0207946000{i}") for i in range(n)])
    assert bool(alerts(out, "call_frequency")) is fires
    if fires:
        assert actions(out, "disable_outbound")[0].target == "1001"


def test_window_edge_is_exclusive_of_the_oldest():
    # 6 calls, first and last exactly 1 s apart: the first has left the window
    out = run([cdr(t=i * 0.2, dst=f"0207946000{i}") for i in range(6)])
    assert not alerts(out, "call_frequency")


def test_per_extension_rule_overrides_default():
    pol = policy("extensions:\n  '2001': {call_frequency: {calls: 2, seconds: 60}}")
    calls = [cdr(t=i * 20, src="2001", dst=f"0207946000{i}") for i in range(3)]
    assert alerts(run(calls, pol), "call_frequency")
    assert not alerts(run(calls[:2], pol), "call_frequency")


def test_start_and_end_of_one_call_count_once():
    evs = []
    for i in range(5):
        evs.append(cdr(t=i * 0.1, call_id=f"k{i}", phase="start"))
        evs.append(cdr(t=i * 0.1, call_id=f"k{i}", end=None, duration=30))
    assert not alerts(run(evs), "call_frequency")


def test_repeat_bursts_are_one_incident():
    out = run([cdr(t=i * 0.05, dst=f"020794600{i:02d}") for i in range(30)])
    assert len(alerts(out, "call_frequency")) == 1
