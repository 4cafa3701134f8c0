"""sequential_calls: boundaries and behaviour."""
import pytest
from tests.builders import alerts, cdr, run


@pytest.mark.parametrize("n,fires", [(10, False), (11, True)])
def test_sequential_calls_to_one_number(n, fires):
    out = run([cdr(t=i * 60, dst="02079460000", call_id=f"s{i}") for i in range(n)])
    assert bool(alerts(out, "sequential_calls")) is fires

def test_sequence_broken_by_another_number():
    dsts = ["02079460000"] * 6 + ["02079460001"] + ["02079460000"] * 6
    assert not alerts(run([cdr(t=i * 60, dst=d, call_id=f"s{i}") for i, d in enumerate(dsts)]), "sequential_calls")
