"""distributed_lockout: password spraying across many accounts from many addresses is caught per tenant."""

import pytest

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


@pytest.mark.parametrize("seed", range(6))
def test_the_distinct_index_counts_as_a_scan_of_the_window(seed):
    """_distinct reads the window's index (each id's latest time) kept beside it as check adds and prunes:
    the count it gives is the scan's (capped at ``enough``), in order, out of order, with repeats and prunes."""
    import random
    from bisect import bisect_right
    from streams.rules.distributed_lockout import _distinct
    from streams.state import TimeSet
    from streams.state.windex import WindowIndex

    rnd = random.Random(seed)
    window = TimeSet()
    for step in range(1500):
        t = step + (rnd.uniform(-40, 0) if rnd.random() < 0.1 else 0.0)
        ident = rnd.randrange(8) if rnd.random() < 0.7 else 1000 + step
        WindowIndex.added(window, window.add(t, ident), t, ident)
        if rnd.random() < 0.1:
            WindowIndex.prune(window, step - rnd.uniform(50, 400), rnd.choice([64, 4096]))
        if rnd.random() < 0.01:
            window = TimeSet(list(window.t), list(window.ids))  # read back from state
        for at in (window.t[-1], rnd.uniform(step - 100, step)):
            for enough in (3, 10, 10_000):
                seconds = rnd.uniform(1, 300)
                a, b = bisect_right(window.t, at - seconds), bisect_right(window.t, at)
                assert _distinct(window, at, seconds, enough) == min(len(set(window.ids[a:b])), enough)


def test_a_feed_out_of_order_does_not_rebuild_the_index_at_every_event(monkeypatch):
    """The worker reads partitions interleaved, so nearly every failure lands before the window's newest
    entry and drops the window's index. Rebuilding it at the next question made each event cost the
    whole window (the 30k flood through the in-process worker pipeline: 7.4 s -> 38 s). A dropped
    index is answered by the scan, and rebuilt only once enough scans paid for it."""
    import random
    from streams.state import windex
    built = []
    real = windex.WindowIndex.__init__

    def counting(self, window):
        built.append(len(window))
        real(self, window)
    monkeypatch.setattr(windex.WindowIndex, "__init__", counting)
    rnd = random.Random(3)
    evs = [sec(t=i * 0.05 + rnd.uniform(0, 3), ip=f"198.51.{i % 250}.{i % 199 + 1}", action="register",
               account=str(1000 + i % 40), outcome="failure") for i in range(3000)]
    evs.sort(key=lambda e: e["ts"])
    for k in range(0, len(evs) - 1, 2):  # pairs swapped: every other event arrives before the newest
        evs[k], evs[k + 1] = evs[k + 1], evs[k]
    assert alerts(run_any_order(evs), "distributed_lockout")
    assert sum(built) <= 8 * len(evs), f"{len(built)} index builds over {sum(built):,} entries for {len(evs)} events"


def test_the_window_index_holds_at_most_its_entry_budget(monkeypatch):
    """The index cache is bounded by entries, not only by windows: a flood on thousands of accounts
    (each window up to 4,096 entries) could otherwise index about ten million entries."""
    from streams.state import TimeSet
    from streams.state.windex import WindowIndex
    monkeypatch.setattr(WindowIndex, "_held", {})
    monkeypatch.setattr(WindowIndex, "_entries", 0)
    monkeypatch.setattr(WindowIndex, "ENTRIES", 1_000)
    windows = []
    for w in range(60):
        window = TimeSet()
        for k in range(100):
            WindowIndex.added(window, window.add(float(k), k % 7 + w), float(k), k % 7 + w)
        windows.append(window)
        assert WindowIndex.of(window).distinct(-1.0, 99.0, 50) == 7
        WindowIndex.added(window, window.add(100.0, 1), 100.0, 1)  # an append kept in step
        held = sum(i.n for i in WindowIndex._held.values())
        assert held == WindowIndex._entries <= 1_000 + 100, (held, WindowIndex._entries)
