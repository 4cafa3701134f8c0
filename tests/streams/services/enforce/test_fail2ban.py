"""The fail2ban backend against a real fail2ban-server with a throwaway configuration (no firewall action)."""

import shutil
import subprocess
import time

import pytest

from streams.services.enforce.applier import Applier
from streams.services.enforce.settings import Settings

from .helpers import action

FAIL2BAN = """[Definition]
loglevel = INFO
logtarget = {d}/fail2ban.log
socket = {d}/f2b.sock
pidfile = {d}/f2b.pid
dbfile = :memory:
"""
JAIL = """[DEFAULT]
backend = polling
[tg]
enabled = true
filter = tg
logpath = {d}/dummy.log
action = tgnoop
bantime = 600
"""


@pytest.fixture
def server(tmp_path):
    if not shutil.which("fail2ban-client") or not shutil.which("fail2ban-server"):
        pytest.skip("FAIL2BAN TEST NOT RUN: fail2ban is not installed (scripts/setup-system.sh installs it)")
    d = tmp_path
    (d / "filter.d").mkdir()
    (d / "action.d").mkdir()
    (d / "dummy.log").write_text("")
    (d / "fail2ban.conf").write_text(FAIL2BAN.format(d=d))
    (d / "jail.conf").write_text(JAIL.format(d=d))
    (d / "filter.d" / "tg.conf").write_text("[Definition]\nfailregex = ^never <HOST>$\n")
    (d / "action.d" / "tgnoop.conf").write_text("[Definition]\nactionstart =\nactionstop =\nactioncheck =\n"
                                                "actionban =\nactionunban =\n")
    sock = str(d / "f2b.sock")
    client = ["fail2ban-client", "-c", str(d), "-s", sock, "-p", str(d / "f2b.pid")]
    try:
        started = subprocess.run(client + ["start"], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.skip("FAIL2BAN TEST NOT RUN: fail2ban-server did not start within 10 s")
    if started.returncode != 0:
        pytest.skip(f"FAIL2BAN TEST NOT RUN: fail2ban-server did not start: {started.stderr.strip()[-300:]}")
    try:
        yield sock
    finally:
        subprocess.run(client + ["stop"], capture_output=True, timeout=20)


def banned(sock: str) -> str:
    p = subprocess.run(["fail2ban-client", "-s", sock, "status", "tg"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    return p.stdout.rsplit("Banned IP list:", 1)[1].strip()


def test_banip_and_unbanip(server):
    s = Settings.parse({"retry": {"attempts": 1},
                        "backends": [{"name": "f2b", "type": "fail2ban", "jail": "tg", "socket": server}]})
    ap = Applier(s.backends)
    ap.submit(action(target="203.0.113.9", now=time.time()))
    assert banned(server) == "203.0.113.9"
    ap.submit(action(kind="unblock", target="203.0.113.9", duration_s=None))
    assert banned(server) == ""
    get = ap.metrics.registry.registry.get_sample_value
    assert get("tollguard_enforce_applied_total", {"backend": "f2b", "kind": "block_ip"}) == 1
    assert get("tollguard_enforce_applied_total", {"backend": "f2b", "kind": "unblock"}) == 1


def test_never_blocked_addresses_are_not_banned(server):
    """Issue 25.3: fail2ban is never asked to ban the LAN, link-local, CGNAT, this host or a scoped address."""
    from .test_never_block import HOST_OWN, NEVER_BLOCKED, own_host
    s = Settings.parse({"retry": {"attempts": 1},
                        "backends": [{"name": "f2b", "type": "fail2ban", "jail": "tg", "socket": server}]},
                       host=own_host)
    ap = Applier(s.backends)
    now = time.time()
    for t in [*NEVER_BLOCKED, HOST_OWN]:
        ap.submit(action(target=t, now=now))
    ap.submit(action(target="203.0.113.9", now=now))  # the control
    assert banned(server) == "203.0.113.9"
    get = ap.metrics.registry.registry.get_sample_value
    assert get("tollguard_enforce_skipped_total", {"reason": "refused"}) == len(NEVER_BLOCKED) + 1
