"""The one way to emit an alert, in Rust (engine/src/emit.rs, ``streams._engine.emit_step``), against
``streams.core.detector.Ctx.emit`` and what it calls (``_join``, ``_actions``, ``_order``, ``_seen``,
``span``, ``_incident_span``, ``_prune_incidents``, ``block``, ``_extend_blocks``).

Every ``emit`` of whole replays is recorded (the key's state before and after as changelog bytes, the
arguments, the context it reads: scope, event time, ``settled``, the event's identity and what ``_seen``
reads of the event) and made again by the port on the state before: the same answer (a new alert or
not), the same records appended (Alert and Seen, with their actions) byte for byte, and the same state
after (incidents opened, counted, moved earlier and pruned; the IP key's blocks recorded, merged and cut).
The replays: two simulated days of two tenants (one shuffled, so late detections join incidents and move
their start), the fixtures' day (spend limits, trunks, Wangiri, takeovers), the sample events, and a
distributed flood cut to 3,000 events under the example policy (campaigns, never-block addresses, locks),
also with ``country_ip_block: set`` and with a short ``incident_seconds`` so incidents are pruned."""

from __future__ import annotations

import copy
import random
import subprocess
import sys
from pathlib import Path

import pytest

from streams.core.detector import Ctx
from streams.domain.events import Cdr, SecurityEvent, encode
from streams.domain.campaigns import FAMILIES
from streams.domain.incidents import Seen
from streams.shells.worker.statecodec import encode_value

_engine = pytest.importorskip("streams._engine")

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """Wraps ``Ctx.emit``: each call's context, arguments, and what it did."""

    def __init__(self):
        self.calls: list[dict] = []

    def install(self, monkeypatch):
        original = Ctx.emit

        def emit(ctx, rule, severity, subject_type, subject, summary, evidence, actions=(), variant="", at=None,
                 span=None, tenant=None, adds=False):
            actions = list(actions)
            call = {"tenant": ctx.tenant, "other": tenant, "scope": ctx.scope, "ts": ctx.ts, "settled": ctx.settled,
                    "ident": ctx.ident, "event": ctx.event, "before": encode_value(ctx.state),
                    "changed_before": ctx.blocks_changed,
                    "firsts": {k: v.first for k, v in ctx.state.incidents.items()},
                    "args": (rule, severity, subject_type, subject, summary, copy.deepcopy(evidence),
                             [tuple(a) for a in actions], variant, at, span, adds)}
            n = len(ctx.out)
            result = original(ctx, rule, severity, subject_type, subject, summary, evidence, actions, variant, at,
                              span, tenant, adds)
            call["made"] = result is not None
            call["records"] = list(ctx.out[n:])
            call["encoded"] = [encode(r) for r in call["records"]]  # as they were when emit returned
            call["after"] = encode_value(ctx.state)
            call["changed"] = ctx.blocks_changed
            firsts, now = call["firsts"], ctx.state.incidents
            call["earlier"] = any(k in now and now[k].first < f for k, f in firsts.items())
            call["pruned"] = any(k not in now for k in firsts)
            self.calls.append(call)
            return result

        monkeypatch.setattr(Ctx, "emit", emit)


def source_of(call) -> tuple:
    ev = call["event"]
    if isinstance(ev, Cdr):
        cost = next((r.cost for r in call["records"] if isinstance(r, Seen)), ev.cost)  # the rate table's, as _seen had it
        return ("cdr", ev.call_id, cost, None, None, None)
    if isinstance(ev, SecurityEvent):
        return ("security", None, None, ev.outcome, ev.src_ip, ev.account)
    assert ev is None, ev
    return ("none", None, None, None, None, None)


_docs: dict[int, object] = {}


def doc(tenant):
    d = _docs.get(id(tenant))
    if d is None:
        d = _docs[id(tenant)] = (tenant, _engine.TenantDoc(tenant.document()))
    return d[1]


def check(call) -> None:
    other = call["other"]
    made, records, after, changed = _engine.emit_step(doc(call["tenant"]), doc(other) if other is not None else None,
                                                      call["scope"], call["before"], call["ts"], call["settled"],
                                                      call["ident"], source_of(call), call["args"])
    assert (made, records, after) == (call["made"], call["encoded"], call["after"]), call["args"]
    if not call["changed_before"]:  # the flag says whether this emit recorded a block (global_blocklist reads it)
        assert changed == call["changed"], call["args"]


def replay(tmp: Path, name: str, lines: list[bytes], policy: Path | None, monkeypatch) -> list[dict]:
    from streams.core.detector import Detector
    from streams.policy import Policy
    from streams.shells.replay import read_events, run

    src = tmp / f"{name}.jsonl"
    src.write_bytes(b"".join(lines))
    rec = Recorder()
    with monkeypatch.context() as m:
        rec.install(m)
        det = Detector(Policy.load(policy) if policy else Policy.default())
        run(read_events([str(src)]), det, lambda r: None, lambda r: None)
    return rec.calls


def _lines(path: Path) -> list[bytes]:
    return [ln + b"\n" for ln in path.read_bytes().splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, list[dict]]:
    from streams.commands.simulate import simulate

    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("emit")
    out = {}
    try:
        d = tmp / "sim3"
        d.mkdir()
        simulate(1, 3, d, tenants=2)
        lines = _lines(d / "events.jsonl")
        out["sim 3"] = replay(tmp, "sim3", lines, d / "policy.yaml", mp)
        random.Random(3).shuffle(lines)
        out["sim 3 shuffled"] = replay(tmp, "sim3s", lines, d / "policy.yaml", mp)
        out["sim-day"] = replay(tmp, "simday", _lines(ROOT / "fixtures/sim-day/events.jsonl"),
                                ROOT / "fixtures/sim-day/policy.yaml", mp)
        out["sample"] = replay(tmp, "sample", _lines(ROOT / "fixtures/sample-events.jsonl"), None, mp)
        flood = tmp / "flood-in.jsonl"
        subprocess.run([sys.executable, str(ROOT / "bench/gen_campaign_flood.py"), "3000", str(flood)], check=True)
        example = (ROOT / "fixtures/policy.example.yaml").read_text()
        assert "\nincident_seconds: 3600 " in example
        for name, text in (("flood set", example + "\ncountry_ip_block: set\n"),
                           ("flood short", example.replace("\nincident_seconds: 3600 ", "\nincident_seconds: 60 ", 1))):
            pol = tmp / f"{name.replace(' ', '-')}.yaml"
            pol.write_text(text)
            out[name] = replay(tmp, name.replace(" ", "-"), _lines(flood), pol, mp)
    finally:
        mp.undo()
    return out


def test_every_emit_of_the_replays(recorded):
    seen = {"made": 0, "joined": 0, "earlier": 0, "blocked": 0, "pruned": 0, "not_blocked": 0, "campaign": 0,
            "timer": 0, "hangup": 0}
    for name, calls in recorded.items():
        assert calls, name
        for call in calls:
            check(call)
            seen["made" if call["made"] else "joined"] += 1
            seen["earlier"] += call["earlier"]
            seen["blocked"] += call["changed"] and not call["changed_before"]
            seen["pruned"] += call["pruned"]
            seen["not_blocked"] += any(b"not_blocked" in r and b"not_blocked" not in repr(call["args"][5]).encode()
                                       for r in call["encoded"])
            seen["campaign"] += any(isinstance(r, Seen) and r.campaign for r in call["records"])
            seen["timer"] += call["event"] is None
            seen["hangup"] += not call["made"] and any(a[0] == "hangup_call" for a in call["args"][6])
    assert all(n > 0 for n in seen.values()), seen


def test_the_campaign_rules_are_the_families():
    assert sorted(_engine.CAMPAIGN_RULES) == sorted(FAMILIES)


def test_a_tenant_with_privacy_is_refused(recorded, monkeypatch):
    """The port does not pseudonymise yet: it refuses rather than write in clear what the policy hides."""
    from streams.policy.compiled import Tenant
    from streams.policy.schema import TenantPolicy

    monkeypatch.setenv("TOLLGUARD_PII_SALT", "a-secret-of-at-least-16")
    private = Tenant("p", TenantPolicy.model_validate({"privacy": {"mask_numbers": "last4"}}))
    call = next(c for c in recorded["flood set"] if c["made"])
    with pytest.raises(ValueError, match="privacy"):
        _engine.emit_step(_engine.TenantDoc(private.document()), None, call["scope"], call["before"], call["ts"],
                          call["settled"], call["ident"], source_of(call), call["args"])


# --------------------------------------------------------------------------------- crafted states

def test_random_emits_on_crafted_states():
    """What the replays reach rarely or never: report and off modes, a severity override, ``tenant=`` naming
    another tenant, locks and blocks the never-block list refuses (LAN, static accept, IPv4-mapped, scope ids,
    junk), more than 8 block spans, 31 to 40 incidents with ties at the prune cut, permanent spans, an earlier
    join with ``adds`` and hangups, each source kind. Seeded; every answer, record, state and flag compared."""
    import json

    from streams.core.detector import Detector
    from streams.core.epochs import FOREVER
    from streams.domain.events import decode_event
    from streams.policy import Policy
    from streams.policy.compiled import Tenant
    from streams.policy.schema import TenantPolicy
    from streams.rules.contract import Order
    from streams.shells.worker.statecodec import decode_value
    from streams.state import ExtState, Incident, IpState

    rules = {"daily_calls": {"mode": "report"}, "time_condition": {"severity": "critical"}, "route_scan": {"mode": "off"},
             "login_lockout": {"mode": "report"}}
    a = Tenant("a", TenantPolicy.model_validate({"rules": rules, "incident_seconds": 600, "static_defense": [
        {"name": "x", "source": "203.0.113.0/24", "action": "accept"}]}))
    b = Tenant("b", TenantPolicy.model_validate({"incident_seconds": 900, "campaign_seconds": 1800}))
    docs = {"a": _engine.TenantDoc(a.document()), "b": _engine.TenantDoc(b.document())}
    rule_ids = ["login_lockout", "country_ip", "daily_calls", "time_condition", "registration_lockout", "global_blocklist",
                "distributed_lockout", "route_scan"]
    ips = ["1.2.3.4", "10.0.0.5", "203.0.113.9", "::ffff:10.0.0.1", "fe80::1%eth0", "junk", "8.8.8.8"]
    rnd = random.Random(29)
    stats = dict.fromkeys(["made", "joined", "report", "off", "other", "not_locked", "cut", "prune", "forever"], 0)

    def order():
        kind = rnd.choice(["block_ip", "lock_account", "hangup_call", "disable_outbound", "block_number"])
        target = rnd.choice(ips) if kind == "block_ip" else f"t{rnd.randint(0, 2)}"
        return Order(kind, target, rnd.choice([None, 0, 60, 600, 3600]),
                     rnd.choice([None, rnd.choice(ips)]) if kind == "lock_account" else None)

    for _ in range(1500):
        scope = rnd.choice(["ip", "ip", "ext"])
        st = IpState() if scope == "ip" else ExtState()
        base = 1.7e9 + rnd.randint(0, 3) * 600
        ts = base + rnd.uniform(0, 600)
        for j in range(rnd.choice([0, 5, 31, 32, 33, 40])):
            first = base + rnd.choice([0.0, 100.0, 200.0, rnd.uniform(-40000, 600)])
            st.incidents[f"k{j}|r|ip|s||{j}"] = Incident(first=first, count=rnd.randint(1, 5), alert_id=f"id{j}",
                                                         until=rnd.choice([first + 600, first - 30000, FOREVER]))
        if scope == "ip":
            for name in rnd.sample(["a", "b", "z"], rnd.randint(0, 3)):
                st.blocks[name] = sorted([[base + k * 50.0, base + k * 50.0 + rnd.choice([10.0, 10.0, 60.0])]
                                          for k in rnd.sample(range(-20, 20), rnd.randint(7, 12))])
        rule = rnd.choice(rule_ids)
        actions = [order() for _ in range(rnd.randint(0, 3))]
        at = rnd.choice([None, ts - rnd.uniform(0, 900), base + 50.0 * rnd.randint(-20, 20), base])
        span = rnd.choice([None, None, 600.0, FOREVER])
        tenant = rnd.choice([a, b])
        other = rnd.choice([None, None, a, b])
        adds = rnd.random() < 0.4
        ev = None
        kind = rnd.choice(["none", "security", "cdr"])
        if kind == "security":
            d = {"type": "security", "ts": "2026-10-30T00:00:51Z", "service": "sip", "action": "register",
                 "src_ip": rnd.choice(["1.2.3.4", "8.8.8.8", "41.0.0.1", "10.0.0.2"]), "tenant": tenant.name,
                 "outcome": rnd.choice(["success", "failure"])}
            account = rnd.choice([None, "", "100"])
            if account is not None:
                d["account"] = account
            ev = decode_event(json.dumps(d))
        elif kind == "cdr":
            ev = decode_event(json.dumps({"type": "cdr", "call_id": "c1", "start": "2026-10-30T02:00:00Z",
                                          "end": "2026-10-30T02:10:00Z", "src": "1004", "dst": "0044", "duration": 606,
                                          "billsec": 0, "cost": rnd.choice([None, 1.5]), "disposition": "answered",
                                          "tenant": tenant.name}))
        if rnd.random() < 0.5:  # the incident this detection makes is open already: it joins
            t = other or tenant
            sp = span if span is not None else Ctx.span(None, actions, t)
            when = ts if at is None else at
            epoch = 0 if sp >= FOREVER else int(when // sp)
            st.incidents[f"{t.name}|{rule}|ip|S||{epoch}"] = Incident(first=when + rnd.choice([-5.0, 5.0]), count=1,
                                                                     alert_id="joined", until=FOREVER)
        raw = encode_value(st)
        det = Detector(Policy.default())
        det.clocks[tenant.name] = ts - rnd.choice([0, 30000, 100000])
        out: list = []
        ctx = Ctx(det, tenant, ev, ts, scope, "k", decode_value(raw), out)
        ctx.ident = 0 if ev is None else rnd.getrandbits(64)
        evidence = rnd.choice([{}, {"a": 1}, {"not_blocked": "x", 3: [1, 2]}])
        args = (rule, "warning", "ip", "S", "sum 1.2.3.4", copy.deepcopy(evidence), [tuple(o) for o in actions], "", at,
                span, adds)
        made = ctx.emit(*args[:5], copy.deepcopy(evidence), actions, "", at, span, other, adds)  # its own evidence: emit adds to it
        want = (made is not None, [encode(r) for r in out], encode_value(ctx.state), ctx.blocks_changed)
        if isinstance(ev, Cdr):
            source = ("cdr", ev.call_id, ev.cost, None, None, None)
        elif ev is not None:
            source = ("security", None, None, ev.outcome, ev.src_ip, ev.account)
        else:
            source = ("none", None, None, None, None, None)
        got = _engine.emit_step(docs[tenant.name], docs[other.name] if other else None, scope, raw, ts, ctx.settled,
                                ctx.ident, source, args)
        assert got == want, (args, tenant.name, other and other.name, scope)
        mode = (other or tenant).rule(rule).mode
        stats["made" if want[0] else "joined"] += 1
        stats["report"] += mode == "report"
        stats["off"] += mode == "off"
        stats["other"] += other is not None and other is not tenant
        stats["not_locked"] += any(b"not_locked" in r for r in want[1])
        stats["cut"] += any(len(v) == 8 for v in decode_value(want[2]).blocks.values()) if scope == "ip" else 0
        stats["prune"] += len(decode_value(raw).incidents) >= 32 and want[0]
        stats["forever"] += any(b"1e18" in r or b"1000000000000000000" in r for r in want[1])
    assert all(n > 0 for n in stats.values()), stats


def test_a_malformed_block_span_is_refused_as_python_refuses_it():
    """Only a corrupt changelog value holds a span that is not [start, until]: both refuse it (no panic)."""
    from streams.core.detector import Detector
    from streams.policy import Policy
    from streams.rules.contract import Order
    from streams.shells.worker.statecodec import decode_value
    from streams.state import IpState

    pol = Policy.default()
    t = pol.tenant("default")
    for spans in ([[1.0]], [[]], [[1.0, 2.0, 3.0]]):
        raw = encode_value(IpState(blocks={"default": spans}))
        args = ("registration_lockout", "alert", "ip", "8.8.8.8", "s", {}, [("block_ip", "8.8.8.8", 600, None)], "",
                1.7e9, None, False)
        with pytest.raises(ValueError, match="values to unpack"):
            Ctx(Detector(pol), t, None, 1.7e9, "ip", "ip:8.8.8.8", decode_value(raw), []).emit(
                *args[:6], [Order(*args[6][0])], "", 1.7e9, None, None, False)
        with pytest.raises(ValueError, match="values to unpack"):
            _engine.emit_step(_engine.TenantDoc(t.document()), None, "ip", raw, 1.7e9, 1.7e9, 0,
                              ("none", None, None, None, None, None), args)
