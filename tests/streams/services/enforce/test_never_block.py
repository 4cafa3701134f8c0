"""The never-block list (issue 25.3): no backend blocks the LAN, the carrier's NAT, link-local or this host,
and no address with a scope id reaches any backend; the command and webhook backends check too, and get
``from_ip`` (issue 25.2), checked the same way."""

import ipaddress
import json
import logging
import socket
import sys

import pytest

from streams.kafka.config import ConfigError
from streams.services.enforce.action import BadAction
from streams.services.enforce.applier import Applier
from streams.services.enforce.settings import Settings

from .helpers import NOW, Clock, action, rec
from .test_backends import RECORDER, http_server  # noqa: F401  (a fixture)

# each one an address an attacker could try to get blocked through a forged or spoofed line
NEVER_BLOCKED = {
    "10.1.2.3": "10.0.0.0/8", "172.16.5.4": "172.16.0.0/12", "192.168.1.10": "192.168.0.0/16",
    "169.254.1.1": "169.254.0.0/16", "fe80::1": "fe80::/10", "100.64.0.1": "100.64.0.0/10",
    "fd00::1": "fc00::/7", "::ffff:192.168.1.10": "192.168.0.0/16", "127.0.0.2": "127.0.0.0/8",
    "2001:db8::1%eth0": "scope id", "::ffff:203.0.113.9%x": "scope id",
}
HOST_OWN = "198.51.100.20"  # what the injected host reader says this host holds


def own_host():
    return frozenset({ipaddress.ip_address(HOST_OWN)})


def settings(*backends, host=own_host, **top):
    return Settings.parse({"retry": {"attempts": 1}, "backends": list(backends), **top}, host=host)


def recorder(out, kinds=("block_ip", "lock_account"), **extra):
    return {"name": "pbx", "type": "command", "kinds": list(kinds),
            "argv": [sys.executable, "-c", RECORDER, str(out), "{kind}", "{target}", "{from_ip}"], **extra}


def refused(ap) -> float:
    return ap.metrics.registry.registry.get_sample_value("tollguard_enforce_skipped_total",
                                                        {"reason": "refused"}) or 0


@pytest.mark.parametrize("target", list(NEVER_BLOCKED) + [HOST_OWN])
def test_command_backend_refuses_a_never_blocked_target(target, tmp_path, caplog):
    out = tmp_path / "argv.jsonl"
    ap = Applier(settings(recorder(out)).backends, clock=Clock())
    with caplog.at_level(logging.WARNING, "tollguard.enforce"):
        ap.submit(action(target=target))
    assert not out.exists(), out.read_text()
    assert refused(ap) == 1
    why = NEVER_BLOCKED.get(target, "this host's own addresses")
    assert any("pbx refuses it" in r.getMessage() and why in r.getMessage() for r in caplog.records), caplog.text


@pytest.mark.parametrize("target", list(NEVER_BLOCKED) + [HOST_OWN])
def test_webhook_backend_refuses_a_never_blocked_target(target, http_server):  # noqa: F811
    url, got, _ = http_server
    ap = Applier(settings({"name": "sbc", "type": "webhook", "kinds": ["block_ip"], "url": url}).backends,
                 clock=Clock())
    ap.submit(action(target=target))
    assert got == [] and refused(ap) == 1


@pytest.mark.parametrize("kind, extra", [("nftables", {}), ("fail2ban", {"jail": "asterisk"})])
@pytest.mark.parametrize("target", list(NEVER_BLOCKED) + [HOST_OWN])
def test_firewall_backends_refuse_a_never_blocked_target(kind, extra, target):
    ap = Applier(settings({"name": "fw", "type": kind, **extra}).backends, clock=Clock(), dry_run=True,
                 out=open("/dev/null", "w"))
    ap.submit(action(target=target))
    assert refused(ap) == 1


def test_a_public_address_still_reaches_every_backend(tmp_path, http_server):  # noqa: F811
    url, got, _ = http_server
    out = tmp_path / "argv.jsonl"
    ap = Applier(settings(recorder(out), {"name": "sbc", "type": "webhook", "kinds": ["block_ip"], "url": url}
                          ).backends, clock=Clock())
    ap.submit(action(target="::ffff:203.0.113.9"))
    assert json.loads(out.read_text()) == ["block_ip", "203.0.113.9", ""]  # normalised as nft would see it
    assert got[0][2]["target"] == "203.0.113.9" and refused(ap) == 0


def test_this_hosts_real_address_is_never_blocked(tmp_path):
    """Not injected: the address this machine sends from (read here by another way than enforce's)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            pytest.skip("no IPv4 route on this machine")
        mine = s.getsockname()[0]
    out = tmp_path / "argv.jsonl"
    # every default network opened up, so only "this host's own" can refuse it
    opened = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]
    ap = Applier(settings(recorder(out), host=None, unsafe_allow_block=opened).backends, clock=Clock())
    ap.submit(action(target=mine))
    assert not out.exists() and refused(ap) == 1, mine


def test_operator_networks_apply_to_every_backend_and_per_backend(tmp_path, http_server):  # noqa: F811
    url, got, _ = http_server
    out = tmp_path / "argv.jsonl"
    ap = Applier(settings(recorder(out, never_block=["203.0.113.0/24"]),
                          {"name": "sbc", "type": "webhook", "kinds": ["block_ip"], "url": url},
                          never_block=["198.51.100.0/24"]).backends, clock=Clock())
    ap.submit(action(target="198.51.100.7"))  # top level: both refuse
    ap.submit(action(target="203.0.113.7"))   # the command backend's own: only it refuses
    assert not out.exists() and [b["target"] for _, _, b in got] == ["203.0.113.7"] and refused(ap) == 3


def test_unsafe_allow_block_opens_only_what_it_names(tmp_path):
    out = tmp_path / "argv.jsonl"
    s = settings(recorder(out), unsafe_allow_block=["10.20.0.0/16"], never_block=["10.20.5.0/24"])
    ap = Applier(s.backends, clock=Clock())
    for t in ("10.20.1.1", "10.30.0.1", "10.20.5.5"):
        ap.submit(action(target=t))
    assert [json.loads(x)[1] for x in out.read_text().splitlines()] == ["10.20.1.1"] and refused(ap) == 2
    assert "10.20.0.0/16" in " ".join(s.never.warnings())


@pytest.mark.parametrize("net", ["127.0.0.0/8", "198.51.100.0/24", "::1/128", "0.0.0.0/0"])
def test_unsafe_allow_block_cannot_open_loopback_or_what_is_not_a_default(net):
    with pytest.raises(ConfigError, match="unsafe_allow_block"):
        settings({"name": "fw", "type": "nftables"}, unsafe_allow_block=[net])


def test_unsafe_allow_block_cannot_open_this_hosts_address(tmp_path):
    out = tmp_path / "argv.jsonl"
    ap = Applier(settings(recorder(out), host=lambda: frozenset({ipaddress.ip_address("10.0.0.5")}),
                          unsafe_allow_block=["10.0.0.0/8"]).backends, clock=Clock())
    ap.submit(action(target="10.0.0.5"))
    ap.submit(action(target="10.0.0.6"))
    assert [json.loads(x)[1] for x in out.read_text().splitlines()] == ["10.0.0.6"]


def test_unblock_of_a_never_blocked_address_is_still_carried_out():
    fw, = settings({"name": "fw", "type": "nftables"}).backends
    step, = fw.plan(action(kind="unblock", target="10.1.2.3", duration_s=None), None, NOW)
    assert step.argv[-4:] == ("blocked4", "{", "10.1.2.3", "}")


# -- from_ip (issue 25.2) ----------------------------------------------------------------------------

def lock(from_ip="203.0.113.77", **kw):
    r = rec(kind="lock_account", target="1001", **kw)
    if from_ip != "absent":
        r["from_ip"] = from_ip
    from streams.services.enforce.action import parse
    return parse(r)


def test_from_ip_reaches_the_command_argv_and_the_webhook_body(tmp_path, http_server):  # noqa: F811
    url, got, _ = http_server
    out = tmp_path / "argv.jsonl"
    ap = Applier(settings(recorder(out), {"name": "sbc", "type": "webhook", "kinds": ["lock_account"], "url": url}
                          ).backends, clock=Clock())
    ap.submit(lock("203.0.113.77"))
    ap.submit(lock("::ffff:198.51.100.3"))
    ap.submit(lock(None))        # a whole-account lock
    ap.submit(lock("absent"))    # a record from before the field: the same
    assert [json.loads(x) for x in out.read_text().splitlines()] == [
        ["lock_account", "1001", "203.0.113.77"], ["lock_account", "1001", "198.51.100.3"],
        ["lock_account", "1001", ""], ["lock_account", "1001", ""]]
    assert [b["from_ip"] for _, _, b in got] == ["203.0.113.77", "198.51.100.3", None, None]
    assert all(b["target"] == "1001" for _, _, b in got)


@pytest.mark.parametrize("source", ["192.168.1.5", "10.0.0.9", "fe80::2", "100.64.3.3", "2001:db8::5%eth0",
                                    HOST_OWN, "not-an-ip"])
def test_a_lock_for_a_never_blocked_source_is_refused_by_command_and_webhook(source, tmp_path, http_server):  # noqa: F811
    url, got, _ = http_server
    out = tmp_path / "argv.jsonl"
    ap = Applier(settings(recorder(out), {"name": "sbc", "type": "webhook", "kinds": ["lock_account"], "url": url}
                          ).backends, clock=Clock())
    ap.submit(lock(source))
    assert not out.exists() and got == [] and refused(ap) == 2


@pytest.mark.parametrize("bad", [5, "", " 203.0.113.7", "203.0.113.7\n", "x" * 65])
def test_a_from_ip_that_is_not_plain_text_makes_the_record_invalid(bad):
    with pytest.raises(BadAction, match="from_ip"):
        lock(bad)


def test_per_source_locks_keep_their_own_extent():
    """A short lock for one source does not borrow the end of a long lock of the same account for another."""
    out = []
    fw, = settings({"name": "pbx", "type": "command", "kinds": ["lock_account"],
                    "argv": ["/bin/true", "{from_ip}", "{remaining_s}"]}).backends
    ap = Applier([fw], clock=Clock(), dry_run=True, out=type("W", (), {"write": lambda s, x: out.append(x),
                                                                        "flush": lambda s: None})())
    ap.submit(lock("203.0.113.77", duration_s=3600))
    ap.submit(lock("198.51.100.3", duration_s=60))
    text = "".join(out)
    assert '"203.0.113.77", "3600"' in text and '"198.51.100.3", "60"' in text, text
