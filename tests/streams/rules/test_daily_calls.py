"""daily_calls: boundaries and behaviour."""
import pytest
from tests.builders import alerts, cdr, policy, run


@pytest.mark.parametrize("n,fires", [(20, False), (21, True)])
def test_daily_calls(n, fires):
    pol = policy("daily_calls: 20")
    out = run([cdr(t=i * 30, dst=f"020794{i:05d}", call_id=f"d{i}") for i in range(n)], pol)
    assert bool(alerts(out, "daily_calls")) is fires

def test_daily_counter_resets_at_local_midnight():
    pol = policy("daily_calls: 3\ntimezone: Asia/Tokyo")  # T0 10:00 UTC = 19:00 Tokyo
    evs = [cdr(t=i * 3600, dst=f"0207946000{i}", call_id=f"d{i}") for i in range(4)]  # 19:00..22:00
    assert alerts(run(evs, pol), "daily_calls")
    evs = [cdr(t=i * 3600 + 7200, dst=f"0207946000{i}", call_id=f"d{i}") for i in range(4)]  # 21:00..00:00
    assert not alerts(run(evs, pol), "daily_calls")
