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
               ("login_lockout", {"max_failures": 3, "max_seconds": far}), ("auto_defense", "far")],
        "ext": [("call_frequency", {"seconds": far}), ("sequential_calls", {"seconds": far}),
                ("pin_failures", {"seconds": far}), ("registration_ttl", far), ("max_call_duration", far)],
        "trunk": [("max_call_duration", far), ("spend_limits", "trunk")],
        "tenant": [("distributed_lockout", {"seconds": far}), ("wangiri", {"seconds": far}),
                   ("route_scan", {"seconds": far}), ("incident_seconds", far)],
    }
    for scope, changes in variants.items():
        for field, change in changes:
            if field == "auto_defense":  # one auto-defense rule looking further back than the rest
                value = [*base.auto_defense[:-1], base.auto_defense[-1].model_copy(update={"seconds": far})]
            elif field == "spend_limits":  # a spend limit of a trunk over a long window
                value = [*base.spend_limits, base.spend_limits[0].model_copy(update={"scope": change, "window": far})]
            else:
                value = getattr(base, field).model_copy(update=change) if isinstance(change, dict) else change
            p = base.model_copy(update={field: value})
            assert retention(p) == _as_listed(p), field
            assert retention(p)[scope] >= far + HORIZON, (scope, field)


# -- expiry: the core's incidents, blocks and timer, and what each rule keeps a key for ----------

def _expiry_as_listed(st, keep: float) -> float:
    """``expiry`` as streams/state/expiry.py wrote it out before the rules declared ``keeps``."""
    from streams.core.epochs import FOREVER
    from streams.state.expiry import PROFILE
    from streams.state.schema import ExtState, IpState

    seen = st.last if st.last is not None else float("-inf")
    t = seen + keep
    for inc in st.incidents.values():
        t = max(t, (inc.until if inc.until < FOREVER else seen + PROFILE) + HORIZON)
    if isinstance(st, IpState):
        for spans in st.blocks.values():
            for span in spans:
                t = max(t, min(span[1], seen + PROFILE) + HORIZON)
        return t
    for ring in getattr(st, "wangiri_inbound", {}).values():
        for b in ring.bursts:
            t = max(t, min(b.until, seen + PROFILE) + HORIZON)
    for w in getattr(st, "spend_limit", {}).values():
        if w.due is not None:
            t = max(t, w.due + HORIZON)
    if isinstance(st, ExtState):
        if st.anomaly is not None:
            t = max(t, seen + PROFILE)
        takeover = st.account_takeover
        if takeover is not None and (takeover.ips or takeover.agents):
            t = max(t, seen + PROFILE)
        if st.next_timer is not None:
            t = max(t, st.next_timer + HORIZON)
    return t


def _random_state(rng):
    from streams.state.schema import (Burst, ExtState, Features, Incident, IpState, OneRing, SpendWindow, Takeover,
                                      TenantState, TrunkState)

    when = lambda: rng.choice([rng.randrange(0, 200) * 3600.0, 1e18])  # noqa: E731
    kind = rng.choice([IpState, ExtState, TrunkState, TenantState])
    st = kind(last=rng.choice([None, rng.randrange(0, 100) * 3600.0]))
    if rng.random() < 0.3:
        st.incidents["i"] = Incident(first=0.0, count=1, alert_id="a", until=when())
    if kind is IpState and rng.random() < 0.5:
        st.blocks["t"] = [[0.0, when()]]
    if kind is not IpState and rng.random() < 0.5:
        st.spend_limit["x"] = SpendWindow(due=rng.choice([None, when()]))
    if kind is TenantState and rng.random() < 0.5:
        st.wangiri_inbound["GB"] = OneRing(bursts=[Burst(start=0.0, until=when(), callers=["+44"])])
    if kind is ExtState:
        if rng.random() < 0.4:
            st.anomaly = Features()
        if rng.random() < 0.4:
            st.account_takeover = Takeover(ips=rng.choice([{}, {"203.0.113.9": [1.0]}]),
                                           agents=rng.choice([{}, {"yealink": [1.0]}]))
        if rng.random() < 0.4:
            st.next_timer = when()
    return st


def test_expiry_asks_the_rules_what_keeps_a_key_as_expiry_py_listed_it():
    import random

    from streams.state.expiry import expiry

    rng = random.Random(5)
    longer = 0
    for _ in range(4000):
        st, keep = _random_state(rng), rng.choice([0.0, 3600.0, 108000.0])
        assert expiry(st, keep) == _expiry_as_listed(st, keep), st
        longer += expiry(st, keep) > (st.last if st.last is not None else float("-inf")) + keep
    assert longer > 1000  # the incidents, blocks, timers and the rules' keeps decided often


@pytest.mark.parametrize("rule, state", [
    ("anomaly", lambda S: S.ExtState(last=0.0, anomaly=S.Features())),
    ("account_takeover", lambda S: S.ExtState(last=0.0, account_takeover=S.Takeover(ips={"203.0.113.9": [0.0]}))),
    ("spend_limit", lambda S: S.TrunkState(last=0.0, spend_limit={"x": S.SpendWindow(due=5e6)})),
    ("wangiri_inbound", lambda S: S.TenantState(last=0.0, wangiri_inbound={
        "GB": S.OneRing(bursts=[S.Burst(start=0.0, until=5e6, callers=[])])})),
])
def test_each_rules_keeps_hook_keeps_its_key(rule, state, monkeypatch):
    # without the rule's hook the key would be forgotten at its look-back
    import dataclasses

    import streams.state.schema as S
    from streams.rules import SPECS
    from streams.state import expiry as E

    st = state(S)
    kept = E.expiry(st, 60.0)
    assert kept > 1e6
    monkeypatch.setattr(E, "_KEEPS", {})
    monkeypatch.setattr("streams.rules.SPECS", [dataclasses.replace(s, keeps=None) if s.id == rule else s for s in SPECS])
    assert E.expiry(st, 60.0) == 60.0


def test_a_subclass_of_a_state_type_is_kept_as_its_type():
    from streams.state.expiry import expiry
    from streams.state.schema import ExtState, Features

    class Sub(ExtState):
        pass

    assert expiry(Sub(last=0.0, anomaly=Features()), 10.0) == expiry(ExtState(last=0.0, anomaly=Features()), 10.0)
