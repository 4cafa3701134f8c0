"""The applier: once per action id, expiry, retries with backoff, isolation of a failing backend, dry run."""

import io

import pytest

from streams.services.enforce.applier import Applier
from streams.services.enforce.backends import Backend, Retry
from streams.services.enforce.ledger import Ledger
from streams.services.enforce.metrics import EnforceMetrics
from streams.services.enforce.settings import Settings
from streams.services.enforce.steps import StepFailed

from .helpers import NOW, Clock, action


class Step:
    def __init__(self, backend, action, until):
        self.backend, self.action, self.until = backend, action, until

    def describe(self):
        return f"fake {self.backend.name} {self.action.target}"

    def run(self):
        b = self.backend
        if b.fail:
            b.fail -= 1
            raise StepFailed("boom")
        b.done.append((b.name, self.action.kind, self.action.target, self.until))


class Fake(Backend):
    """Records what it applied; fails its first ``fail`` runs."""
    TYPE = "fake"

    def __init__(self, name, kinds=("block_ip", "unblock"), fail=0, attempts=3):
        super().__init__(name, kinds, None, Retry(attempts, 2.0, 10.0))
        self.done, self.fail = [], fail

    def plan(self, a, until, now):
        return [Step(self, a, until)]


def make(*backends, ledger=None, dry=False):
    clock, out, metrics = Clock(), io.StringIO(), EnforceMetrics()
    return Applier(list(backends), ledger or Ledger(), metrics, clock, dry, out), clock, out


def value(ap, name, **labels):
    return ap.metrics.registry.registry.get_sample_value(name, labels or None) or 0


def test_same_action_id_applied_once():
    fw = Fake("fw")
    ap, _, _ = make(fw)
    a = action()
    ap.submit(a, 1)
    ap.submit(a, 2)
    assert len(fw.done) == 1
    assert value(ap, "tollguard_enforce_applied_total", backend="fw", kind="block_ip") == 1
    assert value(ap, "tollguard_enforce_skipped_total", reason="duplicate") == 1
    assert ap.unsettled() == set()


def test_once_across_restarts_with_a_state_file(tmp_path):
    state = str(tmp_path / "state.json")
    a = action()
    fw = Fake("fw")
    make(fw, ledger=Ledger(state))[0].submit(a)
    again = Fake("fw")
    make(again, ledger=Ledger(state))[0].submit(a)
    assert (len(fw.done), len(again.done)) == (1, 0)


def test_expired_action_not_applied_and_counted():
    fw = Fake("fw")
    ap, _, _ = make(fw)
    ap.submit(action(ago=7200, duration_s=3600))
    ap.submit(action(ago=3600, duration_s=3600))  # ends exactly now: ended
    assert fw.done == []
    assert value(ap, "tollguard_enforce_expired_total") == 2
    ap.submit(action(ago=7200, duration_s=None))  # until lifted: never expires
    assert len(fw.done) == 1


def test_later_shorter_block_does_not_shorten_a_longer_one():
    fw = Fake("fw")
    ap, _, _ = make(fw)
    ap.submit(action(duration_s=86400))
    ap.submit(action(duration_s=60))
    assert [d[3] for d in fw.done] == [NOW + 86400, NOW + 86400]
    ap.submit(action(kind="unblock", duration_s=None))
    ap.submit(action(duration_s=60))  # after an unblock the new block stands on its own
    assert fw.done[-1][3] == NOW + 60


def test_failure_retries_with_backoff_and_does_not_block_others():
    bad, good = Fake("bad", fail=2), Fake("good", kinds=("block_ip", "lock_account"))
    ap, clock, _ = make(bad, good)
    a = action()
    ap.submit(a, "t1")
    assert len(good.done) == 1 and bad.done == []
    assert ap.unsettled() == {"t1"} and ap.next_due() == NOW + 2.0
    ap.submit(action(kind="lock_account", target="1001"), "t2")  # others go on meanwhile
    assert len(good.done) == 2 and ap.unsettled() == {"t1"}
    clock.t += 2.0
    ap.tick()
    assert ap.next_due() == NOW + 2.0 + 4.0  # doubled
    clock.t += 4.0
    ap.tick()
    assert [d[0] for d in bad.done] == ["bad"] and ap.unsettled() == set()
    assert value(ap, "tollguard_enforce_retries_total", backend="bad", kind="block_ip") == 2
    assert value(ap, "tollguard_enforce_failed_total", backend="bad", kind="block_ip") == 0


def test_bounded_retries_then_reported(caplog):
    bad = Fake("bad", fail=99, attempts=3)
    ap, clock, _ = make(bad)
    ap.submit(action(), "t")
    for _ in range(5):
        clock.t += 100
        ap.tick()
    assert value(ap, "tollguard_enforce_failed_total", backend="bad", kind="block_ip") == 1
    assert value(ap, "tollguard_enforce_retries_total", backend="bad", kind="block_ip") == 2
    assert ap.pending == [] and ap.unsettled() == set()
    assert "FAILED on bad after 3 tries" in caplog.text


def test_unblock_drops_pending_block_retries():
    bad = Fake("bad", fail=1)
    ap, clock, _ = make(bad)
    ap.submit(action(), "t1")
    ap.submit(action(kind="unblock", duration_s=None), "t2")
    clock.t += 10
    ap.tick()
    assert [d[1] for d in bad.done] == ["unblock"]
    assert value(ap, "tollguard_enforce_skipped_total", reason="lifted") == 1


def test_kinds_decide_which_backend_acts():
    fw, pbx = Fake("fw"), Fake("pbx", kinds=("lock_account",))
    ap, _, _ = make(fw, pbx)
    ap.submit(action(kind="lock_account", target="1001"))
    ap.submit(action(kind="hangup_call", target="call-9"))
    assert (fw.done, [d[1] for d in pbx.done]) == ([], ["lock_account"])
    assert value(ap, "tollguard_enforce_skipped_total", reason="no_backend") == 1


def test_dry_run_prints_exact_argv_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    s = Settings.parse({"backends": [
        {"name": "fw", "type": "nftables", "create": True, "nft": "/nonexistent/nft"},
        {"name": "pbx", "type": "command", "kinds": ["block_ip"], "argv": ["/usr/bin/touch", str(marker), "{target}"]}]})
    ap, _, out = make(*s.backends, dry=True)
    ap.setup()
    ap.submit(action(target="203.0.113.9", duration_s=600))
    text = out.getvalue()
    assert 'dry-run fw setup: run ["/nonexistent/nft", "-f", "-"] with stdin "add table inet tollguard\\n' in text
    assert ('run ["/nonexistent/nft", "add", "element", "inet", "tollguard", "blocked4", "{", "203.0.113.9", '
            '"timeout", "600s", "}"]') in text
    assert f'run ["/usr/bin/touch", "{marker}", "203.0.113.9"]' in text
    assert not marker.exists()
    assert value(ap, "tollguard_enforce_applied_total", backend="fw", kind="block_ip") == 0


def test_refused_target_is_skipped_per_backend():
    s = Settings.parse({"backends": [{"name": "fw", "type": "nftables", "nft": "/nonexistent/nft"}]})
    ap, _, _ = make(*s.backends)
    for t in ("1.2.3.4; rm -rf /", "$(id)", "127.0.0.1", "10.0.0.0/8", "::ffff:127.0.0.1", "0.0.0.0"):
        ap.submit(action(target=t))
    assert value(ap, "tollguard_enforce_skipped_total", reason="refused") == 6
    assert value(ap, "tollguard_enforce_failed_total", backend="fw", kind="block_ip") == 0


def test_logs_escape_hostile_text(caplog):
    caplog.set_level("INFO")
    fw = Fake("fw")
    ap, _, _ = make(fw)
    ap.submit(action(alert_id="al-1\u202e\x1b[2J"))
    assert "\x1b" not in caplog.text and "\u202e" not in caplog.text
    assert "al-1\\u202e\\x1b[2J" in caplog.text


@pytest.mark.parametrize("bad", ["", "-rf", " 1.2.3.4", "a\nb", "x" * 300])
def test_hostile_target_text_rejected_at_parse(bad):
    from streams.services.enforce.action import BadAction
    with pytest.raises(BadAction):
        action(target=bad)


def test_a_backend_that_cannot_be_set_up_is_reported_for_the_service_to_stop(tmp_path):
    """nft that the kernel refuses (no CAP_NET_ADMIN): acting anyway would give up on each block and commit past it."""
    fake_nft = tmp_path / "nft"
    fake_nft.write_text("#!/bin/sh\necho 'netlink: Error: cache initialization failed: Operation not permitted' >&2\nexit 1\n")
    fake_nft.chmod(0o755)
    s = Settings.parse({"backends": [{"name": "fw", "type": "nftables", "create": True, "nft": str(fake_nft)}]})
    ap, _, _ = make(*s.backends)
    failed = ap.setup()
    assert len(failed) == 1 and failed[0].startswith("fw: ") and "CAP_NET_ADMIN" in failed[0]
    ok = Settings.parse({"backends": [{"name": "fw", "type": "nftables", "create": True, "nft": "/nonexistent/nft"}]})
    assert make(*ok.backends, dry=True)[0].setup() == []  # a dry run changes nothing, so nothing can fail


def test_a_hang_up_for_a_call_older_than_any_call_is_not_sent():
    from streams.services.enforce.action import HANGUP_MAX_AGE
    old = action(kind="hangup_call", target="call-1", duration_s=None)
    assert not old.expired(old.ts + 60) and old.expired(old.ts + HANGUP_MAX_AGE)
