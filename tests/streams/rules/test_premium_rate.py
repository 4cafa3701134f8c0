"""premium_rate: boundaries and behaviour."""
import pytest
from tests.builders import alerts, cdr, run


@pytest.mark.parametrize("dst,fires", [
    ("09098790000", True),     # UK premium rate 09
    ("08456001234", True),     # UK shared cost 0845
    ("0088213371234", True),   # international networks: possible, not valid
    ("02079460000", False),
    ("0033142278186", False),
])
def test_premium_rate(dst, fires):
    assert bool(alerts(run([cdr(dst=dst)]), "premium_rate")) is fires

def test_scanner_junk_does_not_crash():
    out = run([cdr(dst=d, call_id=str(i)) for i, d in enumerate(["9011+44", "++4420", "+", "**", "#31#", "", "00"])])
    assert not alerts(out, "premium_rate")
