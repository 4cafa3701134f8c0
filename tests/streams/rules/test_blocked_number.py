"""blocked_number: boundaries and behaviour."""
import pytest
from tests.builders import alerts, cdr, policy, run


@pytest.mark.parametrize("pattern,dst,fires", [
    ("0090X.", "00901234", True),
    ("0090X.", "0090", False),
    ("+882.", "0088212345", True),      # E.164 form
    ("00[1-5,7]Z!", "0071", True),
    ("00[1-5,7]Z!", "0061", False),
    ("0NXXXXXXXX", "0207946000", True),
    ("0NXXXXXXXX", "0107946000", False),
])
def test_blocked_number_patterns(pattern, dst, fires):
    pol = policy(f"blocked_numbers: ['{pattern}']")
    assert bool(alerts(run([cdr(dst=dst)], pol), "blocked_number")) is fires
