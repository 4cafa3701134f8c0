"""A key's retention (streams.state.expiry.retention) is built from what each rule declares it looks back
over (``looks_back``, the rule contract) and the core's own look-backs."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.core.epochs import HORIZON
from streams.policy import Policy
from streams.state.expiry import retention

ROOT = Path(__file__).resolve().parents[3]


def _as_listed(p) -> dict[str, float]:
    """The retention as streams/state/expiry.py listed it by hand before the rules declared it."""
    lockouts = [p.registration_lockout.seconds, p.login_lockout.seconds]
    ip = [*lockouts, p.incident_seconds, *(r.seconds for r in p.auto_defense)]
    if p.login_lockout.max_failures:
        ip.append(p.login_lockout.max_seconds)
    ext = [*lockouts, p.call_frequency.seconds, p.sequential_calls.seconds, p.pin_failures.seconds, 2 * 86400.0,
           p.registration_ttl, p.max_call_duration, p.incident_seconds]
    trunk = [p.max_call_duration, p.incident_seconds]
    tenant = [p.distributed_lockout.seconds, p.incident_seconds, p.wangiri.seconds, p.route_scan.seconds]
    for lim in p.spend_limits:
        {"extension": ext, "trunk": trunk}.get(lim.scope, tenant).append(lim.window + p.max_call_duration)
    return {scope: float(max(w)) + HORIZON for scope, w in (("ip", ip), ("ext", ext), ("trunk", trunk),
                                                              ("tenant", tenant))}


def _settings(path: Path | None):
    policy = Policy.load(str(path)) if path else Policy.default()
    return [policy.tenant("default").settings, *(t.settings for t in policy._tenants.values())]


POLICIES = [None, ROOT / "fixtures/policy.example.yaml", ROOT / "fixtures/sim-day/policy.yaml"]


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name if p else "default")
def test_the_declared_look_backs_give_the_retention_listed_before(path):
    for p in _settings(path):
        assert retention(p) == _as_listed(p)


def test_each_setting_that_looks_further_back_lengthens_its_scope():
    # every term, one at a time: a rule that stopped declaring its look-back would leave its scope short
    base = _settings(ROOT / "fixtures/policy.example.yaml")[0]
    far = 40 * 86400
    variants = {
        "ip": [("registration_lockout", {"seconds": far}), ("login_lockout", {"seconds": far}),
               ("login_lockout", {"max_failures": 3, "max_seconds": far})],
        "ext": [("call_frequency", {"seconds": far}), ("sequential_calls", {"seconds": far}),
                ("pin_failures", {"seconds": far}), ("registration_ttl", far), ("max_call_duration", far)],
        "trunk": [("max_call_duration", far)],
        "tenant": [("distributed_lockout", {"seconds": far}), ("wangiri", {"seconds": far}),
                   ("route_scan", {"seconds": far}), ("incident_seconds", far)],
    }
    for scope, changes in variants.items():
        for field, change in changes:
            value = getattr(base, field).model_copy(update=change) if isinstance(change, dict) else change
            p = base.model_copy(update={field: value})
            assert retention(p) == _as_listed(p), field
            assert retention(p)[scope] >= far + HORIZON, (scope, field)
