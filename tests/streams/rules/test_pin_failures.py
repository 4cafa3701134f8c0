"""pin_failures: boundaries and behaviour."""
import pytest
from tests.builders import actions, alerts, cdr, policy, run


ROUTES = """
routes:
  international: {extensions: ['2000', '2001'], pin: true}
extensions:
  '3000': {outbound: false}
"""


@pytest.mark.parametrize("n,fires", [(4, False), (5, True)])
def test_pin_guessing(n, fires):
    out = run([cdr(t=i * 10, pin="bad", dst="02079460000", call_id=f"p{i}") for i in range(n)])
    assert bool(alerts(out, "pin_failures")) is fires
    if fires:
        assert actions(out, "disable_outbound")

def test_missing_pin_on_pin_route_counts_as_bad():
    pol = policy(ROUTES)
    out = run([cdr(t=i, src="2000", route="international", call_id=f"q{i}") for i in range(5)], pol)
    assert alerts(out, "pin_failures")

def test_pin_failures_outside_window_do_not_add_up():
    out = run([cdr(t=i * 200, pin="bad", call_id=f"p{i}") for i in range(5)])  # 800 s span > 600 s
    assert not alerts(out, "pin_failures")
