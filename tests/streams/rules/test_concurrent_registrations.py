"""concurrent_registrations: boundaries and behaviour."""
import pytest
from tests.builders import actions, alerts, policy, reg, run


def test_concurrent_registrations_default_one_device():
    same = [reg(t=i * 300, contact="sip:1001@10.0.0.20:5060") for i in range(5)]
    assert not alerts(run(same), "concurrent_registrations")
    hijack = same + [reg(t=2000, ip="185.1.2.3", ua="Zoiper", contact="sip:1001@185.1.2.3:5060")]
    out = run(hijack)
    assert alerts(out, "concurrent_registrations") and actions(out, "block_ip")[0].target == "185.1.2.3"

@pytest.mark.parametrize("devices,fires", [(2, False), (3, True)])
def test_concurrent_registration_limit_raised(devices, fires):
    pol = policy("extensions:\n  '1001': {concurrent_registrations: 2}")
    evs = [reg(t=i, contact=f"sip:1001@10.0.0.{20 + i}") for i in range(devices)]
    assert bool(alerts(run(evs, pol), "concurrent_registrations")) is fires

def test_registrations_expire_after_ttl():
    evs = [reg(t=0, contact="sip:a"), reg(t=3601, contact="sip:b")]
    assert not alerts(run(evs), "concurrent_registrations")
