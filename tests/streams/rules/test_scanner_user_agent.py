"""scanner_user_agent: boundaries and behaviour."""
import pytest
from tests.builders import alerts, run, sec


@pytest.mark.parametrize("ua,fires", [("friendly-scanner", True), ("sipvicious 0.3", True), ("SIPCLI/v1.8", True),
                                      ("Yealink SIP-T46S 66.86.0.15", False), (None, False)])
def test_scanner_user_agent(ua, fires):
    out = run([sec(outcome="request", user_agent=ua)] if ua else [sec(outcome="request")])
    assert bool(alerts(out, "scanner_user_agent")) is fires
