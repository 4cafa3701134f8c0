"""Lockouts scoped as the guide scopes them (issue 25.2): a lock names the source it applies to.

The guide's "Blocked IPs" table (Extension Registration Security) locks the account *for the source
IP*: block type "Block Account", range "SIP Extension:1001", with the address beside it. A scanner
that guesses passwords must not lock the LAN's phones out of their own accounts.
"""
import pytest

from streams.core.detector import Detector
from streams.domain.events import Action, decode_event, encode
from tests.builders import actions, alerts, flat, policy, reg, run, sec

SCANNER = "198.51.100.23"


def guesses(ip=SCANNER, n=12, accounts=("1001", "1002", "1003"), **kw):
    """``n`` wrong-password REGISTERs from one address, turn by turn against ``accounts``."""
    return [sec(t=i * 5, ip=ip, action="register", account=accounts[i % len(accounts)], outcome="failure", **kw)
            for i in range(n)]


def test_the_scanners_locks_name_its_address_and_nothing_else():
    out = run(guesses())
    locks = actions(out, "lock_account")
    assert sorted(a.target for a in locks) == ["default/1001", "default/1002", "default/1003"]
    assert {a.from_ip for a in locks} == {SCANNER}
    assert len({a.action_id for a in locks}) == 3
    assert actions(out, "block_ip")[0].target == SCANNER


def test_the_accounts_still_register_from_the_lan_after_the_scanners_locks():
    det = Detector(policy())
    out = []
    for ev in guesses():
        out += flat(det.feed(decode_event(encode(ev))))
    assert actions(out, "lock_account")
    after = []
    for i, ext in enumerate(("1001", "1002", "1003")):
        after += flat(det.feed(decode_event(encode(reg(t=120 + i, ip="10.0.0.20", account=ext)))))
    after += flat(det.finish())
    assert [r.rule for r in after] == [], "a LAN registration after the scanner's locks raised something"
    locks = actions(out, "lock_account")
    assert all(a.from_ip != "10.0.0.20" for a in locks)


def test_lock_scope_account_locks_the_whole_account():
    pol = policy("registration_lockout: {failures: 10, seconds: 600, lock_scope: account}")
    locks = actions(run(guesses(), pol), "lock_account")
    assert locks and all(a.from_ip is None for a in locks)


def test_a_lan_source_never_gets_a_source_lock():
    """A source lock against a LAN address is a block of that address: the guide never blocks it."""
    out = run(guesses(ip="192.168.1.20"))
    assert alerts(out, "registration_lockout")
    assert not actions(out, "lock_account") and not actions(out, "block_ip")


def test_two_sources_locking_one_account_are_two_actions():
    out = run(guesses(ip="198.51.100.23", accounts=("1001",)) + guesses(ip="198.51.100.24", accounts=("1001",)))
    locks = actions(out, "lock_account")
    assert {a.from_ip for a in locks} == {"198.51.100.23", "198.51.100.24"}
    assert len({a.action_id for a in locks}) == len(locks)


def test_login_lockout_locks_for_the_source():
    pol = policy("login_lockout: {failures: 5, seconds: 600, lock_account: true}")
    evs = [sec(t=i, ip=SCANNER, service="web", action="login", account="admin", outcome="failure", protocol="https")
           for i in range(5)]
    locks = actions(run(evs, pol), "lock_account")
    assert [(a.target, a.from_ip) for a in locks] == [("default/admin", SCANNER)]


def test_account_lockout_locks_each_contributing_source():
    evs = [sec(t=i * 5, ip=f"198.51.100.{10 + i % 3}", action="register", account="1001", outcome="failure")
           for i in range(10)]
    locks = [a for a in actions(run(evs), "lock_account") if a.reason.startswith("Account 1001 locked")]
    assert sorted(a.from_ip for a in locks) == ["198.51.100.10", "198.51.100.11", "198.51.100.12"]
    assert len({a.action_id for a in locks}) == 3


def test_account_lockout_with_lock_scope_account_locks_once_for_all():
    pol = policy("registration_lockout: {failures: 10, seconds: 600, lock_scope: account}")
    evs = [sec(t=i * 5, ip=f"198.51.100.{10 + i % 3}", action="register", account="1001", outcome="failure")
           for i in range(10)]
    locks = [a for a in actions(run(evs, pol), "lock_account") if a.reason.startswith("Account 1001 locked")]
    assert [a.from_ip for a in locks] == [None]


def test_action_records_without_from_ip_still_decode():
    import msgspec
    old = (b'{"type":"action","action_id":"a","ts":"2026-03-04T10:00:00Z","tenant":"default","kind":"lock_account",'
           b'"target":"default/1001","duration_s":600,"alert_id":"x","reason":"r"}')
    rec = msgspec.json.decode(old, type=Action)
    assert rec.from_ip is None
    assert b"from_ip" not in encode(rec)  # and a whole-account lock encodes as it always did


@pytest.mark.parametrize("scope", ["source", "account"])
def test_lock_ids_are_the_same_in_any_order(scope):
    pol = policy(f"registration_lockout: {{failures: 10, seconds: 600, lock_scope: {scope}}}")
    evs = guesses()
    a = sorted((x.action_id, x.from_ip) for x in actions(run(evs, pol), "lock_account"))
    b = sorted((x.action_id, x.from_ip) for x in actions(run(list(reversed(evs)), pol), "lock_account"))
    assert a == b and a


def test_lock_ids_are_the_same_in_replay_and_with_a_detector_per_scope():
    """The worker runs each scope on its own partitions: its lock actions are replay's, id for id."""
    from streams.core.types import SCOPES
    evs = guesses() + [sec(t=100 + i, ip=f"198.51.100.{40 + i % 3}", action="register", account="1001",
                           outcome="failure") for i in range(10)]
    dets = [Detector(policy(), scopes=(s,)) for s in SCOPES]
    split = []
    for ev in evs:
        e = decode_event(encode(ev))
        for det in dets:
            split += flat(det.feed(e))
    for det in dets:
        split += flat(det.finish())
    ids = lambda out: sorted((a.action_id, a.target, a.from_ip) for a in actions(out, "lock_account"))  # noqa: E731
    assert ids(split) == ids(run(evs)) and len(ids(split)) >= 6
