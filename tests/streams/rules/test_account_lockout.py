"""account_lockout: a distributed brute force (rotating source IPs) against one account is caught."""

import msgspec
import pytest

from tests.builders import actions, alerts, policy, run, run_any_order, sec


def rotating(n: int, action: str, service: str = "sip", account: str = "1001", step: float = 1.0) -> list[dict]:
    return [sec(t=i * step, ip=f"198.51.{i // 250}.{i % 250 + 1}", service=service, action=action, account=account)
            for i in range(n)]


def test_rotating_ips_against_one_account_are_caught_and_lock_what_a_lock_can_stop():
    out = run(rotating(5000, "register"))
    got = alerts(out, "account_lockout")
    assert got and got[0].subject == "1001" and got[0].evidence["kind"] == "registration"
    assert len(got[0].evidence["sources"]) >= 2
    assert not alerts(out, "registration_lockout")  # no single IP ever reached the per-IP limit
    assert not actions(out, "block_ip")
    # every address tried once: a lock for it would stop nothing (it does not come back), so none is sent
    assert not actions(out, "lock_account") and "single failure" in got[0].evidence["not_locked"]
    # lock_scope: account locks the account itself, for every address
    whole = policy("registration_lockout: {failures: 10, seconds: 600, lock_scope: account}")
    assert "default/1001" in {a.target for a in actions(run(rotating(5000, "register"), whole), "lock_account")}
    # a pool of addresses that comes back is locked address by address
    pool = [sec(t=i, ip=f"198.51.100.{i % 5 + 1}", action="register", account="1001") for i in range(40)]
    locks = actions(run(pool), "lock_account")
    assert {a.from_ip for a in locks} == {f"198.51.100.{k}" for k in range(1, 6)}


def test_logins_count_with_the_login_thresholds():
    out = run(rotating(5, "login", service="web"))
    got = alerts(out, "account_lockout")
    assert len(got) == 1 and got[0].evidence == {**got[0].evidence, "failures": 5, "kind": "login"}
    assert not alerts(run(rotating(4, "login", service="web")), "account_lockout")


def test_one_source_is_left_to_the_per_ip_rule():
    out = run([sec(t=i, ip="203.0.113.7", action="register", account="1001") for i in range(12)])
    assert alerts(out, "registration_lockout") and not alerts(out, "account_lockout")


def test_the_same_in_any_arrival_order():
    evs = rotating(40, "register", step=20.0)
    want = {a.alert_id for a in alerts(run(evs), "account_lockout")}
    assert want and {a.alert_id for a in alerts(run_any_order(evs), "account_lockout")} == want


def test_the_threshold_follows_the_policy():
    pol = policy("registration_lockout: {failures: 50, seconds: 600}")
    assert not alerts(run(rotating(40, "register"), pol), "account_lockout")
    assert alerts(run(rotating(60, "register"), pol), "account_lockout")


def mixed_flood(n: int = 600, seed: int = 5) -> list[dict]:
    """A botnet of single tries, a pool that comes back (some over UDP with no round trip), one account."""
    import random
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        if rnd.random() < 0.2:
            ip = f"198.51.100.{rnd.randint(1, 6)}"
        else:
            ip = f"203.0.{i // 250}.{i % 250 + 1}"
        ev = sec(t=i * 3.0, ip=ip, action="register", account=str(1000 + rnd.randrange(3)))
        if rnd.random() < 0.3:
            ev.update(protocol="udp", round_trip=False)
        out.append(ev)
    return out


@pytest.mark.parametrize("order", ["in order", "shuffled"])
def test_a_joining_detection_skips_the_per_source_count_only_when_it_cannot_lock(monkeypatch, order):
    """The shortcut (no entry twice in the windows: no lock) gives what the full count gives, alerts and locks."""
    import random
    from streams.rules import account_lockout
    evs = mixed_flood()
    if order == "shuffled":
        random.Random(3).shuffle(evs)
    runner = run if order == "in order" else run_any_order
    calls = []
    real = account_lockout._counts
    monkeypatch.setattr(account_lockout, "_counts", lambda *a: calls.append(1) or real(*a))
    fast = runner(evs)
    skipped = len(calls)
    monkeypatch.setattr(account_lockout, "_no_repeat", lambda *a: False)
    calls.clear()
    full = runner(evs)
    assert skipped < len(calls)  # the shortcut was taken (measured: fewer full per-source counts)
    assert [msgspec.to_builtins(r) for r in fast] == [msgspec.to_builtins(r) for r in full]
    assert actions(fast, "lock_account")  # the pool that comes back is locked either way


@pytest.mark.parametrize("seed", range(6))
def test_the_repeat_index_answers_as_a_scan_of_the_window(seed):
    """_no_repeat reads each entry's previous time of its id from an index kept beside the window as check
    adds and prunes. Its answer is the scan's (no id twice in the range), and never "no repeat" wrongly, in
    order, out of order, with duplicates, prunes and the window rebuilt from state."""
    import random
    from bisect import bisect_right
    from streams.rules.account_lockout import _no_repeat
    from streams.state.windex import WindowIndex as _Repeats
    from streams.state import TimeSet

    rnd = random.Random(seed)
    window = TimeSet()
    floor = float("-inf")
    for step in range(1500):
        t = step + (rnd.uniform(-40, 0) if rnd.random() < 0.1 else 0.0)  # now and then out of order
        ident = rnd.randrange(60) if rnd.random() < 0.3 else 1000 + step
        i = window.add(t, ident)
        _Repeats.added(window, i, t, ident)
        if rnd.random() < 0.05:
            floor = max(floor, step - 300.0)
            _Repeats.prune(window, floor, 4096)
        if rnd.random() < 0.01:
            window = TimeSet(list(window.t), list(window.ids))  # read back from state: another object
        for _ in range(3):
            hi = rnd.uniform(step - 100, step)
            lo = hi - rnd.uniform(1, 200)
            a, b = bisect_right(window.t, lo), bisect_right(window.t, hi)
            scan = len(set(window.ids[a:b])) == b - a
            fast = _no_repeat(window, lo, hi)
            assert fast <= scan  # never "no repeat" when there is one
            if lo >= floor:
                assert fast == scan
