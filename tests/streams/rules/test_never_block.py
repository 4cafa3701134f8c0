"""The policy's LAN and static-accept addresses are never blocked, nor locked out, by any rule (issue 25.3).

Each rule that orders a ``block_ip`` (or a ``lock_account`` for a source) is driven to order it
against an address the policy exempts: a LAN address and a public address under a static accept
rule. Replay runs every scope in one detector; the worker runs each scope on its own partitions
(``Detector(scopes=...)``), so both ways are checked. Each scenario is also run against a public
address the policy does not exempt, to show that it does order the block there.
"""
import pytest

from streams.core.detector import Detector
from streams.domain.events import Action, decode_event, encode
from streams.core.types import SCOPES
import yaml

from streams.policy import Policy
from tests.builders import GB, flat, reg, sec

LAN = "10.1.2.3"
ACCEPTED = "8.8.8.8"          # a public address (US) under the static accept rule below
STRANGER = "8.8.4.4"          # a public address (US) nobody exempts
OFFICE = {"name": "office", "source": "8.8.8.8/32", "action": "accept"}


def policy(extra: dict) -> Policy:
    """The GB test policy, the office accept rule, extension 1001's restrictions, and ``extra`` on top."""
    keys = {**yaml.safe_load(GB), "static_defense": [OFFICE],
            "extensions": {"1001": {"permitted_ips": ["192.0.2.0/24"], "user_agents": ["Yealink"]}}, **extra}
    return Policy.from_yaml(yaml.safe_dump(keys), "<test>")


def scenarios(ip):
    """rule -> (events from ``ip`` that make the rule order a block, extra policy)."""
    fail = lambda t, **kw: sec(t=t, **{"ip": ip, **kw}, outcome="failure")  # noqa: E731
    return {
        "registration_lockout": ([fail(i, action="register", account="1001") for i in range(10)], {}),
        "login_lockout": ([fail(i, service="web", action="login", account="admin", protocol="https")
                           for i in range(20)], {"login_lockout": {"failures": 5, "seconds": 600, "lock_account": True,
                                                                   "max_failures": 20, "max_seconds": 86400}}),
        "auto_defense": ([sec(t=i * 0.01, ip=ip, outcome="request", protocol="udp", action="options")
                          for i in range(50)], {}),
        "scanner_user_agent": ([sec(ip=ip, outcome="request", user_agent="friendly-scanner")], {}),
        "inbound_probe": ([fail(i, action="invite", dialled="00441134900292") for i in range(5)], {}),
        # one US number in six dial forms, 50 min apart (never 3 within an hour: only route_scan sees it)
        "route_scan": ([fail(3000 * i, action="invite", dialled=d) for i, d in enumerate(
            ["0012024561111", "+12024561111", "12024561111", "90012024561111", "000012024561111", "01112024561111"])],
            {}),
        "country_ip": ([sec(ip=ip, outcome="request")], {"allowed_country_ips": ["GB"]}),
        "static_defense": ([sec(ip=ip, outcome="request")],
                           {"static_defense": [OFFICE, {"name": "bad", "source": f"{ip}/32", "action": "drop"}]}),
        "registration_ip_restriction": ([reg(ip=ip, account="1001", ua="Yealink T46")], {}),
        "user_agent_restriction": ([reg(ip=ip, account="1001", ua="Zoiper")], {}),
        "concurrent_registrations": ([reg(t=0, ip="192.0.2.10", account="2001", contact="sip:2001@192.0.2.10"),
                                      reg(t=10, ip=ip, account="2001", contact=f"sip:2001@{ip}")], {}),
        "account_lockout": ([fail(i, ip=ip if i % 2 else "192.0.2.77", action="register", account="1001")
                             for i in range(10)], {}),
        "global_blocklist": ([fail(i, action="register", account="1001", tenant="acme") for i in range(10)]
                             + [sec(t=20, ip=ip, outcome="request", tenant="globex")],
                             {"tenants": {"acme": {"lan": ["127.0.0.0/8"], "static_defense": []}}}),
    }


def in_one(events, pol):
    det = Detector(pol)
    out = []
    for ev in events:
        out += flat(det.feed(decode_event(encode(ev))))
    return out + flat(det.finish())


def by_scope(events, pol):
    """The worker's way: each scope in a detector of its own."""
    dets = [Detector(pol, scopes=(s,)) for s in SCOPES]
    out = []
    for ev in events:
        e = decode_event(encode(ev))
        for det in dets:
            out += flat(det.feed(e))
    for det in dets:
        out += flat(det.finish())
    return out


def against(out, ip, tenant=None):
    """The actions that block ``ip`` or lock an account for it (for ``tenant`` when given)."""
    return [a for a in out if isinstance(a, Action) and (tenant is None or a.tenant == tenant)
            and ((a.kind == "block_ip" and a.target == ip) or (a.kind == "lock_account" and a.from_ip == ip))]


RULES = sorted(scenarios(LAN))


@pytest.mark.parametrize("shell", [in_one, by_scope])
@pytest.mark.parametrize("rule", RULES)
def test_a_stranger_is_blocked(rule, shell):
    """The scenario does order the block when the address is nobody's (so the other tests can fail)."""
    events, extra = scenarios(STRANGER)[rule]
    out = shell(events, policy(extra))
    assert against(out, STRANGER, "globex" if rule == "global_blocklist" else None), rule


@pytest.mark.parametrize("shell", [in_one, by_scope])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("ip", [LAN, ACCEPTED])
def test_lan_and_static_accept_addresses_are_never_blocked(rule, ip, shell):
    events, extra = scenarios(ip)[rule]
    pol = policy(extra)
    out = shell(events, pol)
    tenant = "globex" if rule == "global_blocklist" else None  # acme exempts neither address
    assert not against(out, ip, tenant), [(a.rule if hasattr(a, "rule") else a.kind) for a in against(out, ip, tenant)]
