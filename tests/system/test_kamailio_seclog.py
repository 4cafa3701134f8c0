"""docs/kamailio/tollguard-security-log.cfg for real (issue 26.1): what a real Kamailio 5.6 logs for wrong
passwords, unknown users, a user mismatch, a good REGISTER, a refused source and a flood, read by the
kamailio-log parser `tollguard tail` uses, including requests whose From user and (folded) User-Agent
carry another address and a whole forged log line.

Loopback only: 127.0.0.1 registers; 127.0.0.2 is in the ACL's refused group; 127.0.0.3 floods.
Skipped, loudly, only when Kamailio or one of its modules is missing (scripts/setup-system.sh).
"""

from __future__ import annotations

import json
import socket

import pytest

from streams.intake import Converter

from .kamailio import MISSING, Kamailio, options_probe
from .sip import Client

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

USERS = {"1001": "pw-1001", "1002": "pw-1002"}
FAKE = "6.6.6.6"
# a whole tollguard-sec line with FAKE as its source, in the folded part of a User-Agent header
FORGED_LINE = (f"tollguard-sec/1 event=auth-failed reason=wrong-password src={FAKE} port=5060 proto=udp "
               "time=1796573585 usec=1 method=REGISTER user=1001 ua=x")
FORGED_UA = f"x src={FAKE} port=5060 proto=udp\r\n {FORGED_LINE}"  # under the 256 bytes the cfg keeps


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def events(log: str) -> tuple[list[dict], list[str]]:
    """The log through the converter `tollguard tail --input kamailio-log` uses: (events, [(reason, line)])."""
    conv, got, rejects = Converter("kamailio-log", "UTC", "acme"), [], []
    for line in log.splitlines():
        for raw, error in conv.feed(line.encode("utf-8", "surrogateescape") + b"\n"):
            (rejects.append((error, line)) if error else got.append(json.loads(raw)))
    return got, rejects


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """Run every scenario against one Kamailio; its log's events, rejects, text and the client's port."""
    port, where = free_udp_port(), tmp_path_factory.mktemp("kamailio")
    k = Kamailio(where, USERS, [f"127.0.0.1:{port}"], denied=["127.0.0.2"], defines=("PIKE_DENSITY=10",))
    replies = {}
    try:
        k.wait_ready(options_probe("127.0.0.1", port, "127.0.0.4"))
        c = Client("127.0.0.1", port, "127.0.0.1")
        replies["wrong"] = c.register("1001", "guess")
        replies["unknown"] = c.register("9999", "guess")
        replies["mismatch"] = c.register("1002", USERS["1001"], auth_user="1001")
        replies["ok"] = c.register("1001", USERS["1001"])
        replies["forged"] = c.register("1001", "guess", from_user=FAKE,
                                       ua=FORGED_UA)
        replies["acl"] = Client("127.0.0.1", port, "127.0.0.2").register("1001", USERS["1001"])
        flood = Client("127.0.0.1", port, "127.0.0.3")
        for _ in range(40):  # far over 10 in 2 s: pike drops the rest, without an answer
            try:
                flood.register("1002", None, timeout=0.02)
            except OSError:
                pass
        client_port = c.me[1]
        c.register("1002", USERS["1002"])  # the last line: everything before it is in the log
    finally:
        k.stop()
    got, rejects = events(k.text())
    return got, rejects, k.text(), replies, client_port


def by(got, **want):
    return [e for e in got if all(e.get(k) == v for k, v in want.items())]


def test_replies_are_kamailios(logged):
    _, _, _, replies, _ = logged
    assert replies == {"wrong": "SIP/2.0 401 Unauthorized", "unknown": "SIP/2.0 401 Unauthorized",
                       "mismatch": "SIP/2.0 401 Unauthorized", "ok": "SIP/2.0 200 OK",
                       "forged": "SIP/2.0 401 Unauthorized", "acl": "SIP/2.0 403 Forbidden"}


def test_each_security_event_is_one_event_from_kamailios_address(logged):
    got, rejects, _, _, client_port = logged
    # every tollguard-sec line is read; pike's own "BLOCKing ip" lines carry no time stamp under -E (with
    # syslog they go to Kamailio's main log, not to the file tail follows: docs/kamailio/README.md)
    assert [r for r, line in rejects if "tollguard-sec" in line] == []
    local = dict(service="sip", src_ip="127.0.0.1", port=client_port, protocol="udp", action="register")
    assert len(by(got, reason="wrong password", account="1001", round_trip=True, **local)) == 2  # with the forged one
    assert len(by(got, reason="unknown user", account="9999", outcome="failure", round_trip=True, **local)) == 1
    assert len(by(got, reason="authenticated as another user than the To or From user", account="1001", **local)) == 1
    assert len(by(got, outcome="success", account="1001", **local)) == 1
    assert len(by(got, outcome="success", account="1002", **local)) == 1
    acl = by(got, src_ip="127.0.0.2")
    assert [(e["reason"], e["round_trip"], e.get("account")) for e in acl] == [("refused by ACL", False, None)]
    pike = by(got, src_ip="127.0.0.3")
    assert pike and {(e["reason"], e["round_trip"], e.get("account")) for e in pike} == {
        ("pike flood block", False, None)}
    assert all(e["tenant"] == "acme" and e["ts"].startswith("20") for e in got)


def test_another_address_in_from_or_user_agent_never_becomes_the_source(logged):
    got, _, text, _, _ = logged
    assert {e["src_ip"] for e in got} == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}
    forged = by(got, user_agent=FORGED_UA)
    assert len(forged) == 1 and forged[0]["src_ip"] == "127.0.0.1"  # the whole text arrived, as the agent's name
    # Kamailio wrote it encoded: no physical line of the log starts with the forged text
    assert not [ln for ln in text.splitlines() if ln.lstrip().startswith("tollguard-sec") or f"src={FAKE}" in ln]
