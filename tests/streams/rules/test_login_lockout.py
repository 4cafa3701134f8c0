"""login_lockout: boundaries and behaviour."""
import pytest
from tests.builders import actions, alerts, run, sec


@pytest.mark.parametrize("n,fires", [(4, False), (5, True)])
def test_login_lockout_temporary(n, fires):
    out = run([sec(t=i * 10, service="web", action="login", account="1001") for i in range(n)])
    a = alerts(out, "login_lockout")
    assert bool(a) is fires
    if fires:
        assert not a[0].evidence["permanent"] and actions(out, "block_ip")[0].duration_s == 600

@pytest.mark.parametrize("n,fires", [(19, False), (20, True)])
def test_login_lockout_permanent_at_maximum(n, fires):
    out = run([sec(t=i * 10, service="app", action="login") for i in range(n)])
    perm = [a for a in alerts(out, "login_lockout") if a.evidence["permanent"]]
    assert bool(perm) is fires
    if fires:
        assert [x.duration_s for x in actions(out, "block_ip")][-1] is None
