"""sequential_calls: repeated calls to one number within the window, whatever order they arrive in."""
import random

import pytest
from tests.builders import alerts, cdr, run, run_any_order


@pytest.mark.parametrize("n,fires", [(10, False), (11, True)])
def test_sequential_calls_to_one_number(n, fires):
    out = run([cdr(t=i * 60, dst="02079460000", call_id=f"s{i}") for i in range(n)])
    assert bool(alerts(out, "sequential_calls")) is fires


def test_calls_to_another_number_in_between_do_not_reset_the_count():
    dsts = ["02079460000"] * 6 + ["02079460001"] + ["02079460000"] * 5
    out = run([cdr(t=i * 60, dst=d, call_id=f"s{i}") for i, d in enumerate(dsts)])
    assert alerts(out, "sequential_calls")[0].evidence["number"] == "+442079460000"


def test_calls_spread_beyond_the_window_do_not_count_together():
    assert not alerts(run([cdr(t=i * 400, dst="02079460000", call_id=f"s{i}") for i in range(11)]), "sequential_calls")


def test_same_alert_in_any_arrival_order():
    calls = [cdr(t=i * 60, dst="02079460000", call_id=f"s{i}") for i in range(14)]
    want = {a.alert_id for a in alerts(run(calls), "sequential_calls")}
    for seed in range(5):
        shuffled = calls[:]
        random.Random(seed).shuffle(shuffled)
        assert {a.alert_id for a in alerts(run_any_order(shuffled), "sequential_calls")} == want
