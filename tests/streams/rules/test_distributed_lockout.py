"""distributed_lockout: password spraying across many accounts from many addresses is caught per tenant."""

from tests.builders import actions, alerts, policy, run, run_any_order, sec


def spray(n: int, step: float = 3.0, accounts: int = 200, tenant: str = "default") -> list[dict]:
    """One or two guesses per account and per address: under every per-IP and per-account limit."""
    return [sec(t=i * step, ip=f"198.51.{i // 200}.{i % 200 + 1}", action="register",
                account=f"{1000 + (i * 7) % accounts}", tenant=tenant) for i in range(n)]


def test_spraying_across_accounts_and_addresses_raises_a_critical_alert():
    out = run(spray(300))
    got = alerts(out, "distributed_lockout")
    assert len(got) >= 1 and got[0].severity == "critical" and got[0].subject_type == "tenant"
    assert got[0].evidence["failures"] == 101 and len(got[0].evidence["sources"]) == 16
    for per_key in ("registration_lockout", "account_lockout"):
        assert not alerts(out, per_key), per_key  # no single address or account reached its limit
    assert not actions(out)  # nothing to block: the SOC is told


def test_one_address_or_one_account_is_not_a_distributed_attack():
    one_ip = [sec(t=i, ip="203.0.113.9", action="register", account=f"{1000 + i}") for i in range(150)]
    assert not alerts(run(one_ip), "distributed_lockout")
    one_account = [sec(t=i, ip=f"198.51.100.{i % 250 + 1}", action="register", account="1001") for i in range(150)]
    assert not alerts(run(one_account), "distributed_lockout")


def test_slow_spraying_under_the_window_rate_is_quiet_and_the_policy_can_tighten_it():
    slow = spray(300, step=10.0)  # 60 per 10 min
    assert not alerts(run(slow), "distributed_lockout")
    assert alerts(run(slow, policy("distributed_lockout: {failures: 50, seconds: 600}")), "distributed_lockout")


def test_tenants_are_counted_apart():
    mixed = sorted(spray(90, tenant="a") + spray(90, tenant="b"), key=lambda e: e["ts"])
    assert not alerts(run(mixed), "distributed_lockout")  # 90 each; 180 together would have fired


def test_the_same_alert_in_any_arrival_order():
    evs = spray(250)
    want = {a.alert_id for a in alerts(run(evs), "distributed_lockout")}
    assert want and {a.alert_id for a in alerts(run_any_order(evs), "distributed_lockout")} == want
