"""The Rust port of the key lifecycle (engine/src/lifecycle.rs, ``streams._engine.KeyLifecycle``) against
its reference, ``streams.state.lifecycle.KeyLifecycle`` with ``streams.state.expiry``. Not wired in yet.

(a) Real replays: a detector's own lifecycle is shadowed by the port. Every ``write``, ``expire`` and
``rebuild`` the detector makes is made on the port too, with the key's state as its changelog value,
and after each: whether the key was stored, its state (``last`` as ``write`` set it), the counts per
scope, ``expired``, ``evicted`` and the number of indexed keys; every few hundred calls and at the end,
the whole set of held keys, each key's indexed bucket and tenant, and every state. The inputs: a
simulated day shuffled, a registration flood from distinct addresses over three days (keys expire)
with a budget of 300 keys per scope (keys are evicted, IP keys shared by two tenants), and the
30k-shaped campaign flood cut to 3,000 events with a budget of 50.

(b) Seeded random sequences on small synthetic states: IP keys written by two tenants with different
retentions, blocks and incidents (permanent ones too), equal buckets and equal ``last`` (ties the
heaps break by key), time going backwards, budgets of 1 to 6 keys, expiry limits before, at and past
the buckets; the same checks after every call, and the same exception where the reference raises.
"""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from streams.core.detector import Detector
from streams.intake import read_events
from streams.policy import Policy
from streams.shells.replay import run
from streams.shells.worker.statecodec import encode_value
from streams.state.lifecycle import KeyLifecycle
from streams.state.schema import Incident, IpState, TenantState

_engine = pytest.importorskip("streams._engine")

ROOT = Path(__file__).resolve().parents[2]
SCOPES = ("ip", "ext", "trunk", "tenant")


def _same_books(ref: KeyLifecycle, port) -> None:
    assert (dict(ref.counts), ref.expired, ref.evicted, len(ref)) == \
        (port.counts, port.expired, port.evicted, len(port))


def _same_everything(ref: KeyLifecycle, state: dict, port) -> None:
    _same_books(ref, port)
    assert set(state) == set(port.keys())
    for key, st in state.items():
        assert port.state(key) == encode_value(st), key
    for key, (bucket, tenant) in ref._until.items():
        got = port.indexed(key)
        assert got == (bucket, tenant) and repr(got[0]) == repr(bucket), key  # repr: 0.0 is not -0.0


class Shadow:
    """Makes every lifecycle call of a detector on the port as well, and compares."""

    def __init__(self, det: Detector, every: int = 300):
        self.ref, self.state, self.every = det.keys, det.state, every
        self.port = _engine.KeyLifecycle(det.keys.max_keys)
        self.calls = {"write": 0, "expire": 0, "rebuild": 0}
        self.stored = 0
        ref = self.ref
        write, expire, rebuild = ref.write, ref.expire, ref.rebuild

        def shadow_write(state, key, scope, st, tenant, ts):
            raw = encode_value(st)
            write(state, key, scope, st, tenant, ts)
            self.port.write(key, scope, raw, tenant.name, tenant.retention, ts)
            held = state.get(key) is st  # stored, and not evicted at once
            assert (self.port.state(key) is not None) == held, key
            if held:
                self.stored += 1
                assert self.port.state(key) == encode_value(st), key
            self._step("write")

        def shadow_expire(state, tenant, limit):
            n = expire(state, tenant, limit)
            assert self.port.expire(tenant.name, tenant.retention, limit) == n
            self._step("expire")
            return n

        def shadow_rebuild(state, key, scope, st, tenant):
            rebuild(state, key, scope, st, tenant)
            self.port.rebuild(key, scope, encode_value(st), tenant.name, tenant.retention)
            self._step("rebuild")

        ref.write, ref.expire, ref.rebuild = shadow_write, shadow_expire, shadow_rebuild

    def _step(self, kind: str) -> None:
        self.calls[kind] += 1
        _same_books(self.ref, self.port)
        if sum(self.calls.values()) % self.every == 0:
            _same_everything(self.ref, self.state, self.port)

    def finish(self) -> None:
        _same_everything(self.ref, self.state, self.port)


def _replay(path: Path, policy: Policy, max_keys: int | None, tmp_path: Path, shuffle: int | None = None) -> Shadow:
    if shuffle is not None:
        lines = [ln for ln in path.read_bytes().splitlines() if ln.strip()]
        random.Random(shuffle).shuffle(lines)
        path = tmp_path / f"shuffled-{path.name}"
        path.write_bytes(b"\n".join(lines) + b"\n")
    det = Detector(policy, max_keys=max_keys)
    shadow = Shadow(det)
    run(read_events([str(path)]), det, lambda r: None, lambda r: None)
    shadow.finish()
    return shadow


def test_a_shuffled_simulated_day(tmp_path):
    from streams.commands.simulate import simulate

    simulate(1, 7, tmp_path, tenants=3, extensions=30)
    sh = _replay(tmp_path / "events.jsonl", Policy.load(str(tmp_path / "policy.yaml")), 40, tmp_path, shuffle=3)
    assert sh.stored > 1000 and sh.calls["expire"] > 1000
    assert sh.ref.evicted > 0 and set(sh.ref.counts.values()) != {0}


def test_a_distinct_address_flood_over_three_days(tmp_path):
    # two tenants knocked by the same addresses (IP keys indexed by one tenant, then the other)
    from datetime import datetime, timedelta, timezone

    t0, lines = datetime(2026, 10, 1, tzinfo=timezone.utc), []
    for i in range(4000):  # a burst (keys over the budget are evicted), then a trickle over days (keys expire)
        ts = (t0 + timedelta(seconds=i * 5.0 if i < 2000 else 10_000 + (i - 2000) * 300.0)).isoformat()
        ts = ts.replace("+00:00", "Z")
        lines.append(
            '{"type":"security","ts":"%s","tenant":"%s","service":"sip","src_ip":"203.0.%d.%d","outcome":"failure",'
            '"action":"register","account":"%d"}' % (ts, "t%d" % (i % 2), (i // 3) % 200, (i // 3) % 250 + 1, 100 + i % 7))
    path = tmp_path / "flood.jsonl"
    path.write_text("\n".join(lines) + "\n")
    sh = _replay(path, Policy.load(str(ROOT / "fixtures/policy.example.yaml")), 300, tmp_path)
    assert sh.ref.expired > 100 and sh.ref.evicted > 100


def test_the_campaign_flood(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "campaign.jsonl"
    subprocess.run([sys.executable, str(ROOT / "bench/gen_campaign_flood.py"), "3000", str(out),
                    "--end", "2026-12-01T12:00:00Z"], check=True, capture_output=True)
    sh = _replay(out, Policy.load(str(ROOT / "fixtures/policy.example.yaml")), 50, tmp_path)
    assert sh.ref.evicted > 1000


# -- (b) random sequences on synthetic states ----------------------------------------------------

TENANTS = {
    "a": SimpleNamespace(name="a", retention={"ip": 3600.0, "ext": 7200.0, "trunk": 900.0, "tenant": 1800.0}),
    "b": SimpleNamespace(name="b", retention={"ip": 600.0, "ext": 900.0, "trunk": 900.0, "tenant": 0.0}),
}


def _random_state(rng: random.Random, scope: str):
    """A state of the scope (now and then of another scope's type, which the reference stores: it is never
    ``EMPTY[scope]``), with what keeps a key: incidents, blocks, and each rule's ``keeps``."""
    from streams.state.schema import (Burst, ExtState, Features, OneRing, SpendWindow, Takeover, TenantState,
                                      TrunkState)

    kinds = {"ip": IpState, "ext": ExtState, "trunk": TrunkState, "tenant": TenantState}
    kind = kinds[scope] if rng.random() < 0.9 else rng.choice(list(kinds.values()))
    when = lambda: rng.choice([rng.randrange(0, 40) * 300.0, 1e18])  # noqa: E731
    st = kind(last=rng.choice([None, None, rng.randrange(-4, 20) * 450.0]))
    if kind is IpState:
        for t in rng.sample(["a", "b"], rng.randrange(0, 3)):
            st.blocks[t] = [[0.0, when()] for _ in range(rng.randrange(1, 3))]
    if kind is not IpState and rng.random() < 0.3:
        st.spend_limit["x"] = SpendWindow(due=rng.choice([None, rng.randrange(0, 40) * 300.0]))
    if kind is TenantState:
        if rng.random() < 0.3:
            st.sources["x"] = 1.0
        if rng.random() < 0.3:
            st.wangiri_inbound["GB"] = OneRing(bursts=[Burst(start=0.0, until=when(), callers=[])])
    if kind is ExtState:
        if rng.random() < 0.2:
            st.anomaly = Features()
        if rng.random() < 0.2:
            st.account_takeover = Takeover(ips=rng.choice([{}, {"203.0.113.9": [1.0]}]))
        if rng.random() < 0.2:
            st.next_timer = rng.randrange(0, 40) * 300.0
    if rng.random() < 0.3:
        st.incidents["i"] = Incident(first=0.0, count=1, alert_id="x", until=when())
    return st


@pytest.mark.parametrize("seed", range(6))
def test_random_sequences(seed):
    rng = random.Random(seed)
    for _ in range(60):
        ref, state = KeyLifecycle(rng.choice([1, 2, 3, 6, None])), {}
        port = _engine.KeyLifecycle(ref.max_keys)
        for _ in range(rng.randrange(20, 120)):
            tenant = TENANTS[rng.choice("ab")]
            evicted = ref.evicted
            if rng.random() < 0.7:
                scope = rng.choice(["ip", "ip", "ext", "trunk", "tenant"])
                key = f"ip:10.0.0.{rng.randrange(8)}" if scope == "ip" else f"{scope}:{rng.randrange(4)}"
                st = _random_state(rng, scope)
                ts = rng.randrange(0, 30) * 450.0
                raw = encode_value(st)
                known = key in ref._until
                ref.write(state, key, scope, st, tenant, ts)
                stored = port.write(key, scope, raw, tenant.name, tenant.retention, ts)
                assert stored == (known or key in state or ref.evicted > evicted)  # stored, perhaps evicted at once
                assert (port.state(key) is not None) == (state.get(key) is st)
            else:
                limit = rng.randrange(0, 80) * 450.0 + rng.choice([0.0, 1.0, -1.0])
                assert port.expire(tenant.name, tenant.retention, limit) == ref.expire(state, tenant, limit)
            _same_books(ref, port)
        _same_everything(ref, state, port)


def test_errors_where_the_reference_raises():
    ref, state, port = KeyLifecycle(None), {}, _engine.KeyLifecycle(None)
    st = IpState(blocks={"a": [[0.0, 5.0]]})  # last None: seen from -inf, yet a block that ends
    ref.write(state, "ip:1", "ip", st, TENANTS["a"], 10.0)
    port.write("ip:1", "ip", encode_value(IpState(blocks={"a": [[0.0, 5.0]]})), "a", TENANTS["a"].retention, 10.0)
    _same_everything(ref, state, port)
    short = encode_value(IpState(last=1.0, blocks={"a": [[0.0]]}))
    with pytest.raises(IndexError):
        KeyLifecycle(None).write({}, "ip:2", "ip", IpState(last=1.0, blocks={"a": [[0.0]]}), TENANTS["a"], 2.0)
    with pytest.raises(IndexError):
        port.write("ip:2", "ip", short, "a", TENANTS["a"].retention, 2.0)
    nan = IpState(blocks={"a": [[0.0, 5.0]]})
    with pytest.raises(ValueError):
        KeyLifecycle(None).write({}, "ip:3", "ip", nan, TENANTS["a"], float("nan"))
    with pytest.raises(ValueError):
        port.write("ip:3", "ip", encode_value(IpState(blocks={"a": [[0.0, 5.0]]})), "a", TENANTS["a"].retention,
                   float("nan"))
    with pytest.raises(KeyError):
        port.write("ip:4", "nowhere", short, "a", TENANTS["a"].retention, 2.0)


def test_the_port_knows_every_rule_that_keeps_a_key():
    # the Rust expiry writes the rules' keeps hooks out: a rule that gains one must be added there
    from streams.rules import SPECS

    assert {s.id for s in SPECS if s.keeps is not None} == set(_engine.LIFECYCLE_KEEPS)


def test_times_must_be_floats():
    port = _engine.KeyLifecycle(None)
    raw = encode_value(IpState(last=1.0, blocks={"a": [[0.0, 5.0]]}))
    with pytest.raises(TypeError):
        port.write("ip:1", "ip", raw, "a", TENANTS["a"].retention, 2**53 + 1)
    with pytest.raises(TypeError):
        port.expire("a", TENANTS["a"].retention, 10)
    assert len(port) == 0


def test_a_bucket_rounded_up_to_zero_is_zero_not_minus_zero():
    # math.ceil gives an int: an expiry in (-900, 0] is indexed at 0.0 (a float's ceil would keep the sign)
    ref, state, port = KeyLifecycle(None), {}, _engine.KeyLifecycle(None)
    for last in (-450.0, -900.0, -899.5):
        st = TenantState(last=last, sources={"x": 1.0})
        raw = encode_value(st)
        ref.write(state, "tenant:t", "tenant", st, TENANTS["b"], last)  # tenant b's tenant scope keeps 0 s
        port.write("tenant:t", "tenant", raw, "b", TENANTS["b"].retention, last)
        _same_everything(ref, state, port)
        ref, state, port = KeyLifecycle(None), {}, _engine.KeyLifecycle(None)
