"""international_disallowed: boundaries and behaviour."""
import pytest
from tests.builders import actions, alerts, cdr, policy, run


@pytest.mark.parametrize("dst,fires", [
    ("02079460000", False),        # national
    ("+44 20 7946 0000", False),   # home country written internationally
    ("00442079460000", False),
    ("0033142278186", True),       # France
    ("+33142278186", True),
    ("112", False),                # emergency
    ("1002", False),               # extension
])
def test_international_disallowed(dst, fires):
    assert bool(alerts(run([cdr(dst=dst)]), "international_disallowed")) is fires

def test_international_permitted_extension():
    pol = policy("extensions:\n  defaults: {international: true}")
    assert not alerts(run([cdr(dst="0033142278186")], pol), "international_disallowed")

def test_live_violation_hangs_up_completed_one_bars_extension():
    out = run([cdr(dst="0033142278186", phase="start", call_id="L")])
    assert actions(out, "hangup_call")[0].target == "L"
    out = run([cdr(dst="0033142278186")])
    assert actions(out, "disable_outbound")[0].target == "1001"
